// Reads a stream through a durable pull consumer that every copy of a service
// shares (they split the work): created when missing, starting at the first
// message the stream still holds; recreated when deleted; resumed after any
// interruption, for as long as the service runs.
import {
  AckPolicy,
  ConsumerEvents,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  nanos,
} from 'nats';
import type { Log } from './log.ts';
import type { NatsLink } from './nats.ts';

export interface DurableSpec {
  stream: string;
  name: string;
  filter: string;
  /** Messages pulled at once. */
  batch: number;
  maxAckPending: number;
  ackWaitMs: number;
  /** Pull requests expire this soon, so the loss of the NATS node holding one stalls nothing for long. */
  pullExpiresMs: number;
  /** Where a new consumer starts: the first message the stream holds (default), or the next one. */
  startAt?: 'first' | 'new';
}

export async function ensureDurable(
  jsm: JetStreamManager,
  spec: DurableSpec,
  log: Log,
): Promise<void> {
  const existing = await jsm.consumers.info(spec.stream, spec.name).catch((err: Error) => {
    if (/consumer not found/i.test(err.message)) return null;
    throw err;
  });
  const wanted = { ack_wait: nanos(spec.ackWaitMs), max_ack_pending: spec.maxAckPending };
  if (!existing) {
    await jsm.consumers.add(spec.stream, {
      durable_name: spec.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: spec.startAt === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      filter_subject: spec.filter,
      max_deliver: -1,
      ...wanted,
    });
    log.info('created the durable consumer', { consumer: spec.name, stream: spec.stream });
  } else if (
    existing.config.ack_wait !== wanted.ack_wait ||
    existing.config.max_ack_pending !== wanted.max_ack_pending
  ) {
    await jsm.consumers.update(spec.stream, spec.name, wanted);
  }
}

export class DurableReader {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly nats: NatsLink,
    private readonly spec: DurableSpec,
    private readonly log: Log,
    /** Called for each message in stream order; awaiting it holds the next one back. */
    private readonly onMessage: (msg: JsMsg) => void | Promise<void>,
    /** Called when a round of consuming ends (stop, or an interruption). */
    private readonly onPause: () => void = () => {},
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await ensureDurable(this.nats.jsm, this.spec, this.log);
        const consumer = await this.nats.js.consumers.get(this.spec.stream, this.spec.name);
        const messages = await consumer.consume({
          max_messages: this.spec.batch,
          expires: this.spec.pullExpiresMs,
        });
        this.messages = messages;
        // A stop while the consumer was being set up found nothing to close. Stopped
        // here, the loop below ends at once (close() would wait for that loop to run).
        if (this.stopping) messages.stop();
        this.watchStatus(messages);
        for await (const msg of messages) await this.onMessage(msg);
      } catch (err) {
        if (this.stopping) break;
        this.log.warn(`${this.spec.name} interrupted; starting again`, {
          error: (err as Error).message,
        });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        this.onPause();
      }
    }
  }

  /** A consumer or stream deleted under us is recreated, and consuming starts over. */
  private watchStatus(messages: ConsumerMessages): void {
    (async () => {
      for await (const status of await messages.status()) {
        if (
          status.type === ConsumerEvents.ConsumerNotFound ||
          status.type === ConsumerEvents.StreamNotFound
        ) {
          this.log.warn(`${this.spec.name} or its stream is missing; recreating`, {
            event: status.type,
          });
          messages.stop();
          return;
        }
      }
    })().catch(() => {});
  }
}
