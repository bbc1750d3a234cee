// The storage consumer: reads the samples stream through one durable pull
// consumer (shared by every copy, which split the work) and folds each sample
// into Redis, acknowledging only after the fold. A restart resumes at the first
// unacknowledged sample; a redelivery is a no-op thanks to the idempotent fold.
import {
  AckPolicy,
  ConsumerEvents,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  nanos,
} from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Log } from '../../proto/log.ts';
import type { NatsLink } from '../../proto/nats.ts';
import { decodeSample, InputError } from '../../proto/sample.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS, STORE_CONSUMER } from '../../proto/subjects.ts';
import type { Folder } from '../fold.ts';

export interface StoreConsumerSettings {
  /** Samples folded at once by one copy (STORE_IN_FLIGHT). */
  inFlight: number;
  /** How long a pull request lives (STORE_PULL_EXPIRES): short, so a lost NATS node stalls nothing for long. */
  pullExpiresMs: number;
  /** How long JetStream waits for an ack before redelivering (STORE_ACK_WAIT). */
  ackWaitMs: number;
}

export async function ensureStoreConsumer(
  jsm: JetStreamManager,
  settings: StoreConsumerSettings,
  log: Log,
): Promise<void> {
  const existing = await jsm.consumers.info(SAMPLES_STREAM, STORE_CONSUMER).catch((err: Error) => {
    if (/consumer not found/i.test(err.message)) return null;
    throw err;
  });
  const wanted = {
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: Math.max(1_000, settings.inFlight * 4),
  };
  if (!existing) {
    await jsm.consumers.add(SAMPLES_STREAM, {
      durable_name: STORE_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      // A new consumer folds everything the stream still holds: it is how an empty Redis fills.
      deliver_policy: DeliverPolicy.All,
      filter_subject: SAMPLES_SUBJECTS,
      max_deliver: -1,
      ...wanted,
    });
    log.info('created the durable store consumer', { consumer: STORE_CONSUMER });
  } else if (
    existing.config.ack_wait !== wanted.ack_wait ||
    existing.config.max_ack_pending !== wanted.max_ack_pending
  ) {
    await jsm.consumers.update(SAMPLES_STREAM, STORE_CONSUMER, wanted);
  }
}

export interface StoreCounters {
  folded: Counter<never>;
  skipped: Counter<'reason'>;
  foldErrors: Counter<never>;
  lag: Gauge<never>;
}

export function createStoreCounters(registry: Registry): StoreCounters {
  return {
    folded: new Counter({
      name: 'loadstar_store_samples_folded_total',
      help: 'Samples from the stream folded into Redis by the storage consumer',
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'loadstar_store_samples_skipped_total',
      help: 'Samples from the stream that changed nothing: duplicate (already folded), too_old, invalid',
      labelNames: ['reason'],
      registers: [registry],
    }),
    foldErrors: new Counter({
      name: 'loadstar_store_fold_errors_total',
      help: 'Fold attempts that failed (Redis away); each is retried',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'loadstar_store_lag_seconds',
      help: 'Age of the last folded sample when it was folded (stream time to fold)',
      registers: [registry],
    }),
  };
}

export class StoreConsumer {
  private messages?: ConsumerMessages;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private loop?: Promise<void>;
  private lastMessageAt = 0;

  constructor(
    private readonly nats: NatsLink,
    private readonly folder: Folder,
    private readonly redisReady: () => boolean,
    private readonly settings: StoreConsumerSettings,
    private readonly counters: StoreCounters,
    private readonly log: Log,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops pulling, finishes the folds in flight (and their acks), and returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await this.loop;
    await Promise.all(this.inFlight);
  }

  /** Milliseconds since a message last arrived (for diagnostics). */
  idleMs(): number {
    return this.lastMessageAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.lastMessageAt;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await ensureStoreConsumer(this.nats.jsm, this.settings, this.log);
        const consumer = await this.nats.js.consumers.get(SAMPLES_STREAM, STORE_CONSUMER);
        const messages = await consumer.consume({
          max_messages: this.settings.inFlight,
          expires: this.settings.pullExpiresMs,
        });
        this.messages = messages;
        this.watchStatus(messages);
        for await (const msg of messages) {
          this.lastMessageAt = Date.now();
          if (this.inFlight.size >= this.settings.inFlight) await Promise.race(this.inFlight);
          const folding = this.handle(msg).finally(() => this.inFlight.delete(folding));
          this.inFlight.add(folding);
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.warn('store consumer interrupted; starting again', {
          error: (err as Error).message,
        });
        await sleep(1_000);
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
          this.log.warn('store consumer or stream missing; recreating', { event: status.type });
          messages.stop();
          return;
        }
      }
    })().catch(() => {});
  }

  private async handle(msg: JsMsg): Promise<void> {
    let sample: ReturnType<typeof decodeSample>;
    try {
      sample = decodeSample(msg.string());
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      this.counters.skipped.inc({ reason: 'invalid' });
      this.log.warn('not a sample; dropped from the fold', {
        subject: msg.subject,
        seq: msg.seq,
        error: err.message,
      });
      msg.term();
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.folder.fold(sample);
        if (outcome === 'folded') this.counters.folded.inc();
        else this.counters.skipped.inc({ reason: outcome });
        this.counters.lag.set((Date.now() - msg.info.timestampNanos / 1e6) / 1000);
        msg.ack();
        return;
      } catch (err) {
        this.counters.foldErrors.inc();
        if (attempt === 1)
          this.log.warn('fold failed; retrying until Redis answers', {
            error: (err as Error).message,
          });
        if (this.stopping) return; // not acked: redelivered to whichever copy runs next
        // Keep the message ours while we wait, so JetStream does not hand it to another copy meanwhile.
        msg.working();
        await sleep(Math.min(100 * attempt, 2_000));
        while (!this.redisReady() && !this.stopping) {
          msg.working();
          await sleep(500);
        }
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
