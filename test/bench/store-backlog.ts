// How far the storage consumer is behind the stream. After a pipeline round the
// bench waits for it to catch up, so its folding is charged to the pipeline and
// never steals CPU from the ceiling's next round.
import { connect, type NatsConnection } from 'nats';
import { SAMPLES_STREAM, STORE_CONSUMER } from '../../proto/subjects.ts';

export class StoreBacklog {
  private constructor(private readonly nc: NatsConnection) {}

  static async open(natsUrl: string): Promise<StoreBacklog> {
    return new StoreBacklog(await connect({ servers: new URL(natsUrl).host }));
  }

  /** Samples not yet delivered plus those delivered but not yet acknowledged. */
  async samples(): Promise<number> {
    const jsm = await this.nc.jetstreamManager();
    const info = await jsm.consumers.info(SAMPLES_STREAM, STORE_CONSUMER);
    return info.num_pending + info.num_ack_pending;
  }

  /** Resolves with the milliseconds waited once the backlog is empty; rejects after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const left = await this.samples();
      if (left === 0) return Date.now() - started;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`storage consumer still ${left} samples behind after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}
