// What the soak watches in NATS and Redis besides process memory: how far the
// storage and rules consumers are behind, how much memory Redis uses, and how
// much of it is one-minute aggregates (kept 30 days by design, so they grow).
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { INCIDENTS_STREAM, RULES_CONSUMER } from '../../proto/incident.ts';
import { SAMPLES_STREAM, STORE_CONSUMER } from '../../proto/subjects.ts';
import { hostName } from './protocol.ts';

export interface StoreSample {
  /** Samples not yet delivered to, or not yet acknowledged by, each durable consumer. */
  storeBacklog: number;
  rulesBacklog: number;
  /** Redis INFO used_memory. */
  usedMemory: number;
  /** MEMORY USAGE of the simulated hosts' one-minute aggregate keys. */
  aggregatesBytes: number;
  /** Incidents opened: the soak's values stay below every rule, so any is news. */
  incidents: number;
}

export class StoreWatch {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly redis: Redis,
    private readonly hosts: number,
  ) {}

  static async open(natsUrl: string, redisUrl: string, hosts: number): Promise<StoreWatch> {
    const nc = await connect({ servers: new URL(natsUrl).host });
    return new StoreWatch(nc, new Redis(redisUrl), hosts);
  }

  /** The host's minute blocks (see proto/store/codec.ts): few per host, found by their prefix. */
  private async minuteBlocks(host: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(
        cursor,
        'MATCH',
        `ls:{${host}}:m:*`,
        'COUNT',
        1000,
      );
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  private async backlog(consumer: string): Promise<number> {
    const jsm = await this.nc.jetstreamManager();
    const info = await jsm.consumers.info(SAMPLES_STREAM, consumer).catch(() => null);
    return info ? info.num_pending + info.num_ack_pending : Number.NaN;
  }

  async sample(): Promise<StoreSample> {
    const pipeline = this.redis.pipeline();
    for (let h = 0; h < this.hosts; h++) {
      for (const key of await this.minuteBlocks(hostName(h)))
        pipeline.memory('USAGE', key, 'SAMPLES', 0);
    }
    const usages = (await pipeline.exec()) ?? [];
    const aggregatesBytes = usages.reduce((sum, [, bytes]) => sum + (Number(bytes) || 0), 0);
    const info = await this.redis.info('memory');
    const incidentStream = await (await this.nc.jetstreamManager()).streams
      .info(INCIDENTS_STREAM)
      .catch(() => null);
    return {
      storeBacklog: await this.backlog(STORE_CONSUMER),
      rulesBacklog: await this.backlog(RULES_CONSUMER),
      usedMemory: Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN),
      aggregatesBytes,
      incidents: incidentStream?.state.messages ?? 0,
    };
  }

  /** Waits (at most `timeoutMs`) until both consumers have taken everything; returns the backlog left. */
  async drained(timeoutMs: number): Promise<{ store: number; rules: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [store, rules] = [
        await this.backlog(STORE_CONSUMER),
        await this.backlog(RULES_CONSUMER),
      ];
      if ((store === 0 && rules === 0) || Date.now() > deadline) return { store, rules };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.nc.close();
  }
}
