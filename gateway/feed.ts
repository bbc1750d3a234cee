// Samples as they enter the stream, for gRPC subscribers and the dashboard's
// live view. One ordered consumer feeds every live listener; a subscriber
// resuming from a stream position gets an ordered consumer of its own from that
// position. Ordered consumers recover by themselves from reconnects and gaps, in order.
// "From now" is exact: a listener gets every sample past the stream's last
// sequence at its call, and none before.
import { type ConsumerMessages, DeliverPolicy, type JsMsg } from 'nats';
import { UnavailableError } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import type { NatsLink } from '../deploy/runtime/nats.ts';
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

/** The stream's last sequence now: a call "from now" gets what comes after it. */
export async function streamEnd(nats: NatsLink, stream: string): Promise<number> {
  try {
    return (await nats.jsm.streams.info(stream)).state.last_seq;
  } catch (err) {
    throw new UnavailableError(
      `the stream ${stream} did not say where it ends (${(err as Error).message}); retry later`,
    );
  }
}

interface Listening {
  listener: (event: FeedEvent) => void;
  /** The stream's end at the call: only later samples are the listener's. Unknown at first. */
  after?: number;
  /** Samples that arrived while `after` was still being asked. */
  held: FeedEvent[];
}

export class LiveFeed {
  private readonly listening = new Set<Listening>();
  private messages?: ConsumerMessages;
  private running = false;
  /** Bumped at every pause, so a loop from before a pause never outlives it. */
  private generation = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private idleTimer?: NodeJS.Timeout;
  /** The stream-end question listeners registering now will share, and the one asked before it. */
  private nextEnd?: Promise<number>;
  private askedEnd: Promise<unknown> = Promise.resolve();

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
   * Calls `listener` for every sample that enters the stream after this call, in
   * stream order, until the returned function is called; no sample from before
   * the call. Resolves once that start is fixed; rejects (UnavailableError) when
   * NATS cannot say where the stream ends. The feed runs only while someone listens.
   */
  async listen(listener: (event: FeedEvent) => void): Promise<() => void> {
    // Registered before the stream's end is asked: whatever the feed passes on from
    // here is past every sample it passed before, so nothing past that end is missed.
    const entry: Listening = { listener, held: [] };
    this.listening.add(entry);
    clearTimeout(this.idleTimer);
    const unlisten = () => {
      this.listening.delete(entry);
      if (this.listening.size === 0) {
        this.idleTimer = setTimeout(() => void this.pause(), this.idleMs);
        this.idleTimer.unref();
      }
    };
    let end: number;
    try {
      end = await this.askStreamEnd();
    } catch (err) {
      unlisten();
      throw err;
    }
    if (!this.running && !this.stopped) {
      // Answers come in the order asked, so every listener after this one has an end at
      // least as far: the feed starting here misses nothing any of them is owed.
      this.running = true;
      this.loop = this.run(end + 1, this.generation);
    }
    entry.after = end;
    const held = entry.held;
    entry.held = [];
    for (const event of held) if (event.seq > end) listener(event);
    return unlisten;
  }

  /** Listeners whose start is fixed. */
  get listenerCount(): number {
    let count = 0;
    for (const entry of this.listening) if (entry.after !== undefined) count++;
    return count;
  }

  /**
   * Asks the stream where it ends, once for every listener registered before the
   * question goes out, and never before the previous answer: answers grow with the asking.
   */
  private askStreamEnd(): Promise<number> {
    if (!this.nextEnd) {
      const asked = this.askedEnd.then(() => {
        this.nextEnd = undefined;
        const answer = streamEnd(this.nats, SAMPLES_STREAM);
        this.askedEnd = answer.catch(() => {});
        return answer;
      });
      this.nextEnd = asked;
    }
    return this.nextEnd;
  }

  private async pause(): Promise<void> {
    if (this.listening.size > 0) return;
    this.running = false;
    this.generation++;
    await this.messages?.close();
  }

  private pass(event: FeedEvent): void {
    for (const entry of this.listening) {
      if (entry.after === undefined) entry.held.push(event);
      else if (event.seq > entry.after) entry.listener(event);
    }
  }

  private async run(startSeq: number, generation: number): Promise<void> {
    let from = startSeq;
    const current = () => this.generation === generation && !this.stopped;
    while (current()) {
      try {
        const consumer = await this.nats.js.consumers.get(SAMPLES_STREAM, {
          filterSubjects: SAMPLES_SUBJECTS,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: from,
        });
        const messages = await consumer.consume({ max_messages: 1_000, expires: 5_000 });
        this.messages = messages;
        if (!current()) await messages.close();
        for await (const msg of messages) {
          from = msg.seq + 1;
          const event = toEvent(msg, this.log);
          if (event) this.pass(event);
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
