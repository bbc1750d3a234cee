// Publishes samples to JetStream and resolves with each one's PubAck. This is
// JetStream's publish protocol (a message with a reply subject; the stream
// answers there) with one shared reply subscription and one sweep timer for
// every publish in flight: nats.js's js.publish() makes a timer, a random
// inbox token and an Error object per message, which cost more CPU than the
// publish itself (measured in docs/DECISIONS.md).
import { createInbox, headers, type NatsConnection, type Subscription } from 'nats';

export interface PublishAck {
  stream: string;
  seq: number;
  /** JetStream had this Nats-Msg-Id already (a retry within its duplicate window). */
  duplicate: boolean;
}

interface Queued {
  subject: string;
  data: string;
  msgId: string;
}

interface Waiting {
  resolve: (ack: PublishAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

export class JetStreamPublisher {
  private readonly prefix = createInbox();
  private readonly waiting = new Map<string, Waiting>();
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private counter = 0;
  private closed = false;
  /** Publishes asked for in this turn of the event loop, sent together at its end. */
  private queued: (Queued & Pick<Waiting, 'resolve' | 'reject'>)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (_err, msg) =>
        this.answer(msg.subject.slice(this.prefix.length + 1), msg.data, msg.headers?.code ?? 0),
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, timeoutMs));
    this.sweeper.unref();
    void this.failOnDisconnect();
  }

  /**
   * An answer sent to a dropped connection never arrives (nats.js does not replay
   * replies), so the publishes in flight fail at once rather than at their
   * deadline: the receiver answers 503 now and the agent retries on another
   * receiver, where the Nats-Msg-Id keeps a publish that was stored after all once.
   */
  private async failOnDisconnect(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (this.closed) return;
      if (status.type !== 'disconnect') continue;
      for (const waiting of this.waiting.values()) {
        waiting.reject(new Error('the NATS connection dropped before JetStream acknowledged'));
      }
      this.waiting.clear();
    }
  }

  /**
   * Publishes with a Nats-Msg-Id; rejects when JetStream does not acknowledge
   * within the timeout. Publishes asked for in one turn of the event loop (the
   * requests that arrived together) leave in one socket write, in the order asked.
   */
  publish(subject: string, data: string, msgId: string): Promise<PublishAck> {
    return new Promise((resolve, reject) => {
      this.queued.push({ subject, data, msgId, resolve, reject });
      if (this.queued.length === 1) setImmediate(() => this.send());
    });
  }

  private send(): void {
    const queued = this.queued;
    this.queued = [];
    const deadline = Date.now() + this.timeoutMs;
    for (const { subject, data, msgId, resolve, reject } of queued) {
      if (this.closed) {
        reject(new Error('publisher closed'));
        continue;
      }
      const token = (++this.counter).toString(36);
      const h = headers();
      h.set('Nats-Msg-Id', msgId);
      this.waiting.set(token, { resolve, reject, deadline });
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers: h });
      } catch (err) {
        this.waiting.delete(token);
        reject(err as Error);
      }
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    for (const waiting of this.waiting.values()) waiting.reject(new Error('publisher closed'));
    this.waiting.clear();
  }

  private answer(token: string, data: Uint8Array, status: number): void {
    const waiting = this.waiting.get(token);
    if (!waiting) return; // answered after its deadline: already rejected
    this.waiting.delete(token);
    if (status === 503) {
      waiting.reject(new Error('no JetStream stream answers for this subject (503)'));
      return;
    }
    try {
      const reply = JSON.parse(new TextDecoder().decode(data)) as {
        stream?: string;
        seq?: number;
        duplicate?: boolean;
        error?: { description?: string };
      };
      if (reply.error || typeof reply.seq !== 'number') {
        waiting.reject(
          new Error(`JetStream refused the publish: ${reply.error?.description ?? 'no sequence'}`),
        );
      } else {
        waiting.resolve({
          stream: reply.stream ?? '',
          seq: reply.seq,
          duplicate: reply.duplicate === true,
        });
      }
    } catch {
      waiting.reject(new Error('JetStream answered something that is not a PubAck'));
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, waiting] of this.waiting) {
      if (waiting.deadline <= now) {
        this.waiting.delete(token);
        waiting.reject(new Error(`JetStream did not acknowledge within ${this.timeoutMs} ms`));
      }
    }
  }
}
