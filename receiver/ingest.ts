// Accepts samples: publishes each to JetStream (the record) and folds it into
// Redis (the view) before answering, so a 200 means durable and readable.
// Never answers success for a sample it could lose: any doubt is a 503.
import { Counter, type Registry } from 'prom-client';
import { UnavailableError } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import type { NatsLink } from '../deploy/runtime/nats.ts';
import type { JetStreamPublisher, PublishAck } from '../deploy/runtime/publish.ts';
import { encodeSample, InputError, type Sample, SampleIds } from '../proto/sample.ts';
import { sampleMsgId, sampleSubject } from '../proto/subjects.ts';
import type { Folder } from './fold.ts';

export interface IngestCounters {
  received: Counter<never>;
  rejected: Counter<'reason'>;
  published: Counter<never>;
  duplicates: Counter<never>;
  folded: Counter<never>;
  busy: Counter<never>;
}

export function createIngestCounters(registry: Registry): IngestCounters {
  return {
    received: new Counter({
      name: 'loadstar_samples_received_total',
      help: 'Samples posted to the receiver',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'loadstar_samples_rejected_total',
      help: 'Samples or requests refused with a 4xx, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'loadstar_samples_published_total',
      help: 'Samples acknowledged by JetStream',
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'loadstar_samples_duplicate_total',
      help: 'Retried samples recognised as already stored (JetStream dedup or fold dedup)',
      registers: [registry],
    }),
    folded: new Counter({
      name: 'loadstar_samples_folded_total',
      help: 'Samples folded into Redis by this process',
      labelNames: [],
      registers: [registry],
    }),
    busy: new Counter({
      name: 'loadstar_receiver_busy_total',
      help: 'Requests answered 503 because MAX_IN_FLIGHT samples were being stored already',
      registers: [registry],
    }),
  };
}

export interface Accepted {
  /** The sample's position in the samples stream (a gRPC subscriber can resume from it); null for a sample stored before. */
  seq: number | null;
  /** True when the sample had already been accepted before (a retry). */
  duplicate: boolean;
}

/** Room a request holds among MAX_IN_FLIGHT samples; released once it is answered. */
export interface Room {
  /** Holds room for `total` samples in all; throws (503) when there is none. */
  grow(total: number): void;
  release(): void;
}

const ids = new SampleIds();

/** An id for a sample posted without one (such a post cannot be deduplicated if retried). */
export function newSampleId(): string {
  return ids.next();
}

export class Ingest {
  /** Samples being published and folded right now. */
  private inFlight = 0;

  constructor(
    private readonly nats: NatsLink,
    private readonly publisher: JetStreamPublisher,
    private readonly folder: Folder,
    private readonly redisReady: () => boolean,
    private readonly timing: {
      horizonMs: number;
      maxClockSkewMs: number;
      duplicateWindowMs: number;
      /** Most samples being stored at once (MAX_IN_FLIGHT); past it, 503 at once. */
      maxInFlight: number;
    },
    private readonly counters: IngestCounters,
    private readonly log: Log,
  ) {}

  /** Refuses a sample whose time the pipeline cannot keep; the producer should not retry it. */
  checkTime(sample: Sample, now = Date.now()): void {
    if (sample.time > now + this.timing.maxClockSkewMs) {
      throw new InputError(
        `sample time ${new Date(sample.time).toISOString()} is ahead of the receiver's clock by more than MAX_CLOCK_SKEW`,
        400,
        'future',
      );
    }
    if (sample.time < now - this.timing.horizonMs) {
      throw new InputError(
        `sample time ${new Date(sample.time).toISOString()} is older than SAMPLE_MAX_AGE; the pipeline keeps nothing that old`,
        422,
        'too_old',
      );
    }
  }

  /**
   * Takes room for a request's samples, or refuses it at the door (503) while
   * MAX_IN_FLIGHT samples are being checked and stored: under more load than
   * NATS and Redis take, queueing more only grows memory and lets every request
   * time out (then all are retried, and nothing gets through). A quick 503 keeps
   * what is in flight fast; agents keep the rest in their spools and come back.
   * Taken before the body is read (as one sample), grown once a batch is parsed.
   */
  admit(samples = 1): Room {
    let held = 0;
    const take = (more: number) => {
      // A request alone always gets in, however large: a batch must never be refused for ever.
      if (this.inFlight > held && this.inFlight + more > this.timing.maxInFlight) {
        this.counters.busy.inc();
        throw new UnavailableError(
          `the receiver is storing ${this.inFlight - held} samples already (MAX_IN_FLIGHT ${this.timing.maxInFlight}); nothing was accepted, retry later`,
          1,
        );
      }
      this.inFlight += more;
      held += more;
    };
    take(samples);
    return {
      grow: (total) => take(Math.max(0, total - held)),
      release: () => {
        this.inFlight -= held;
        held = 0;
      },
    };
  }

  /** Publishes and folds every sample; resolves only when all are durable and visible. */
  async accept(samples: Sample[]): Promise<Accepted[]> {
    if (!this.nats.isConnected())
      throw new UnavailableError('NATS is not reachable; nothing was accepted, retry later');
    if (!this.redisReady())
      throw new UnavailableError('Redis is not reachable; nothing was accepted, retry later');
    // A sample folded before is stored and readable already: answer for it without
    // publishing again. Only a sample older than JetStream's duplicate window can be
    // a retry JetStream no longer remembers (a spool replayed after a long outage),
    // so only those cost this extra look-up.
    const now = Date.now();
    // Older than this, a sample may be a replay beyond JetStream's memory (less a margin for clock skew).
    const replayAge = Math.max(0, this.timing.duplicateWindowMs * 0.75);
    const folded = await Promise.all(
      samples.map((s) => (now - s.time > replayAge ? this.folder.isFolded(s) : false)),
    ).catch(this.redisAway);
    const fresh = samples.filter((_, i) => !folded[i]);
    // One connection keeps publish order, so a batch lands in the stream in the order given.
    const acks = await Promise.all(fresh.map((s) => this.publish(s)));
    const outcomes = await Promise.all(fresh.map((s) => this.folder.fold(s))).catch(this.redisAway);
    this.counters.published.inc(acks.filter((a) => !a.duplicate).length);
    this.counters.folded.inc(outcomes.filter((o) => o === 'folded' || o === 'unrecorded').length);
    let next = 0;
    const accepted = samples.map((_, i): Accepted => {
      if (folded[i]) return { seq: null, duplicate: true };
      const ack = acks[next++]!;
      return { seq: ack.seq, duplicate: ack.duplicate };
    });
    this.counters.duplicates.inc(accepted.filter((a) => a.duplicate).length);
    return accepted;
  }

  private readonly redisAway = (err: Error): never => {
    this.log.warn('Redis did not answer during ingest', { error: err.message });
    throw new UnavailableError(
      'Redis did not confirm the sample; retry later (it is stored once whatever happens)',
    );
  };

  private async publish(sample: Sample): Promise<PublishAck> {
    try {
      return await this.publisher.publish(
        sampleSubject(sample.host),
        encodeSample(sample),
        sampleMsgId(sample.host, sample.id),
      );
    } catch (err) {
      this.log.warn('publish to JetStream failed', {
        host: sample.host,
        error: (err as Error).message,
      });
      throw new UnavailableError('JetStream did not acknowledge the sample; retry later');
    }
  }
}
