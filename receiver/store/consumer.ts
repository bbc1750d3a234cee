// The storage consumer: reads the samples stream through one durable pull
// consumer (shared by every copy, which split the work) and folds each sample
// into Redis, acknowledging only after the fold. A restart resumes at the first
// unacknowledged sample; a redelivery is a no-op thanks to the idempotent fold.
import type { JsMsg } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DurableReader } from '../../deploy/runtime/durable.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import { decodeSample, InputError, type Sample } from '../../proto/sample.ts';
import {
  SAMPLES_STREAM,
  SAMPLES_SUBJECTS,
  STORE_CONSUMER,
  sampleIdentity,
} from '../../proto/subjects.ts';
import type { Folder, FoldOutcome } from '../fold.ts';

export interface StoreConsumerSettings {
  /** Samples folded at once by one copy (STORE_IN_FLIGHT). */
  inFlight: number;
  /** How long a pull request lives (STORE_PULL_EXPIRES): short, so a lost NATS node stalls nothing for long. */
  pullExpiresMs: number;
  /** How long JetStream waits for an ack before redelivering (STORE_ACK_WAIT). */
  ackWaitMs: number;
  /**
   * How old a sample must be before this consumer folds it (STORE_SETTLE): the
   * receiver folds every sample it accepts, and waiting that long lets its fold
   * land first, so this consumer's part is usually one look-up, not a second fold.
   */
  settleMs: number;
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

/** Most messages folded as one batch: their look-ups share a pipeline, their acks one write. */
const BATCH_MAX = 256;
/** How long a batch waits for more messages before it starts. */
const BATCH_WAIT_MS = 5;

export class StoreConsumer {
  private readonly reader: DurableReader;
  private readonly inFlight = new Set<Promise<void>>();
  private batch: JsMsg[] = [];
  private batchTimer?: NodeJS.Timeout;
  /** Messages received and not yet acknowledged (or given up at stop). */
  private unacked = 0;
  private stopping = false;
  private lastMessageAt = 0;

  constructor(
    nats: NatsLink,
    private readonly folder: Folder,
    private readonly redisReady: () => boolean,
    private readonly settings: StoreConsumerSettings,
    private readonly counters: StoreCounters,
    private readonly log: Log,
  ) {
    this.reader = new DurableReader(
      nats,
      {
        stream: SAMPLES_STREAM,
        name: STORE_CONSUMER,
        filter: SAMPLES_SUBJECTS,
        batch: settings.inFlight,
        maxAckPending: Math.max(1_000, settings.inFlight * 4),
        ackWaitMs: settings.ackWaitMs,
        pullExpiresMs: settings.pullExpiresMs,
      },
      log,
      (msg) => this.take(msg),
      () => this.startBatch(),
    );
  }

  start(): void {
    this.reader.start();
  }

  /** Stops pulling, finishes the folds in flight (and their acks), and returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.reader.stop();
    this.startBatch();
    await Promise.all(this.inFlight);
  }

  private async take(msg: JsMsg): Promise<void> {
    this.lastMessageAt = Date.now();
    this.unacked++;
    this.batch.push(msg);
    if (this.batch.length >= BATCH_MAX) this.startBatch();
    else this.batchTimer ??= setTimeout(() => this.startBatch(), BATCH_WAIT_MS);
    while (this.unacked >= this.settings.inFlight && this.inFlight.size > 0)
      await Promise.race(this.inFlight);
  }

  /** Milliseconds since a message last arrived (for diagnostics). */
  idleMs(): number {
    return this.lastMessageAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.lastMessageAt;
  }

  private startBatch(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const folding = this.foldBatch(batch).finally(() => {
      this.unacked -= batch.length;
      this.inFlight.delete(folding);
    });
    this.inFlight.add(folding);
  }

  private async foldBatch(batch: JsMsg[]): Promise<void> {
    const newest = Math.max(...batch.map((m) => m.info.timestampNanos / 1e6));
    const wait = this.settings.settleMs - (Date.now() - newest);
    if (wait > 0) await sleep(Math.min(this.settings.settleMs, wait));
    const done = await Promise.all(batch.map((msg) => this.foldWithRetry(msg)));
    // All acks of a batch in one go: nats.js sends them in one write.
    batch.forEach((msg, i) => {
      if (done[i]) msg.ack();
    });
  }

  /** Folds until Redis answers; true when the message may be acknowledged. */
  private async foldWithRetry(msg: JsMsg): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.foldMessage(msg);
        if (outcome === 'invalid') return false;
        if (outcome === 'folded' || outcome === 'unrecorded') this.counters.folded.inc();
        else this.counters.skipped.inc({ reason: outcome });
        this.counters.lag.set((Date.now() - msg.info.timestampNanos / 1e6) / 1000);
        return true;
      } catch (err) {
        this.counters.foldErrors.inc();
        if (attempt === 1) {
          this.log.warn('fold failed; retrying until Redis answers', {
            error: (err as Error).message,
          });
        }
        if (this.stopping) return false; // not acked: redelivered to whichever copy runs next
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

  /**
   * Folds one message. A sample the receiver folded already (the usual case)
   * costs one ZSCORE, found from the message's Nats-Msg-Id (host/id) without
   * decoding the body.
   */
  private async foldMessage(msg: JsMsg): Promise<FoldOutcome | 'invalid'> {
    const identity = sampleIdentity(msg.headers?.get('Nats-Msg-Id') ?? '');
    if (identity && (await this.folder.isFoldedId(identity.host, identity.id))) return 'duplicate';
    let sample: Sample;
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
      return 'invalid';
    }
    return this.folder.fold(sample);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
