// Samples as they enter the stream, for gRPC subscribers. One ordered consumer
// (starting at "new") feeds every live subscriber; a subscriber resuming from a
// stream position gets an ordered consumer of its own from that position.
// Ordered consumers recover by themselves from reconnects and gaps, in order.
import { type ConsumerMessages, DeliverPolicy, type JsMsg } from 'nats';
import type { Log } from '../proto/log.ts';
import type { NatsLink } from '../proto/nats.ts';
import { decodeSample, type Sample } from '../proto/sample.ts';
import { hostToken, SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../proto/subjects.ts';

export interface FeedEvent {
  seq: number;
  sample: Sample;
  /** Wire encodings of this event, by subscriber filter: each is made once. */
  encoded?: Map<string, Buffer | null>;
}

function toEvent(msg: JsMsg, log: Log): FeedEvent | null {
  try {
    return { seq: msg.seq, sample: decodeSample(msg.string()) };
  } catch (err) {
    log.debug('skipping a message that is not a sample', {
      seq: msg.seq,
      error: (err as Error).message,
    });
    return null;
  }
}

/** The narrowest subject that still holds every sample of the wanted hosts. */
export function subjectFor(hosts: readonly string[]): string {
  return hosts.length === 1 ? `metrics.samples.${hostToken(hosts[0]!)}` : SAMPLES_SUBJECTS;
}

export class LiveFeed {
  private readonly listeners = new Set<(event: FeedEvent) => void>();
  private messages?: ConsumerMessages;
  private running = false;
  /** Bumped at every pause, so a loop from before a pause never outlives it. */
  private generation = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    private readonly nats: NatsLink,
    private readonly log: Log,
    /** How long the feed keeps its consumer without listeners (it costs a decode per sample). */
    private readonly idleMs = 60_000,
  ) {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    await this.messages?.close();
    await this.loop;
  }

  /**
   * Calls `listener` for every sample published from now on, until the returned
   * function is called. The feed runs only while someone listens.
   */
  listen(listener: (event: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    clearTimeout(this.idleTimer);
    if (!this.running && !this.stopped) {
      this.running = true;
      // From the moment of the call (less a margin for clock skew between us and
      // nats-server): nothing published after the call is missed while the consumer starts.
      this.loop = this.run(Date.now() - 250, this.generation);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.idleTimer = setTimeout(() => void this.pause(), this.idleMs);
        this.idleTimer.unref();
      }
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private async pause(): Promise<void> {
    if (this.listeners.size > 0) return;
    this.running = false;
    this.generation++;
    await this.messages?.close();
  }

  private async run(startTime: number, generation: number): Promise<void> {
    let from: number | undefined;
    const current = () => this.generation === generation && !this.stopped;
    while (current()) {
      try {
        const consumer = await this.nats.js.consumers.get(SAMPLES_STREAM, {
          filterSubjects: SAMPLES_SUBJECTS,
          ...(from === undefined
            ? {
                deliver_policy: DeliverPolicy.StartTime,
                opt_start_time: new Date(startTime).toISOString(),
              }
            : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from }),
        });
        const messages = await consumer.consume({ max_messages: 1_000, expires: 5_000 });
        this.messages = messages;
        if (!current()) await messages.close();
        for await (const msg of messages) {
          from = msg.seq + 1;
          const event = toEvent(msg, this.log);
          if (!event) continue;
          for (const listener of this.listeners) listener(event);
        }
      } catch (err) {
        if (!current()) break;
        this.log.warn('live feed interrupted; resuming', { error: (err as Error).message, from });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
}

/**
 * Every sample from stream position `fromSeq` on, for as long as the caller
 * iterates: a private ordered consumer, so the caller's pace is the pull's pace.
 */
export async function* replayFrom(
  nats: NatsLink,
  fromSeq: number,
  hosts: readonly string[],
  log: Log,
  signal: AbortSignal,
): AsyncGenerator<FeedEvent> {
  const consumer = await nats.js.consumers.get(SAMPLES_STREAM, {
    filterSubjects: subjectFor(hosts),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
  });
  const messages = await consumer.consume({ max_messages: 256, expires: 5_000 });
  const onAbort = () => void messages.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const msg of messages) {
      const event = toEvent(msg, log);
      if (event) yield event;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await messages.close();
  }
}
