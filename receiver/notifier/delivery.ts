// Deliveries to one receiver: read from its own durable consumer of the
// deliveries stream (so a receiver that is down or slow holds back only
// itself), one at a time and in order (max one unacknowledged, across every
// notifier copy), each retried with backoff until it is sent, refused for good
// (4xx) or older than ALERT_GIVE_UP_AFTER. A delivery is acknowledged only
// once the receiver answered 2xx: at least once, in order per incident; the
// idempotency key lets the receiver drop a repeat.
import type { JsMsg } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DurableReader } from '../../deploy/runtime/durable.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { RequestError, request } from '../../deploy/runtime/request.ts';
import type { Trust } from '../../deploy/runtime/trust.ts';
import type { Incident } from '../../proto/incident.ts';
import { alertKeys } from '../../proto/keys.ts';
import { DELIVERIES_STREAM, deliveryConsumer, deliverySubject } from '../../proto/receivers.ts';
import type { FormatContext, OutgoingRequest, ReceiverKind } from './receivers/kind.ts';
import type { ReceiverSpec } from './routing.ts';

/** One thing to tell one receiver. */
export interface Delivery {
  /** The idempotency key: `<incident id>:<opened|resolved>`, `<id>:reminder:<n>`, `refresh:<n>`. */
  key: string;
  receiver: string;
  transition: 'opened' | 'resolved' | 'reminder' | 'refresh';
  /** The incident as of the transition (the current one for a reminder); null for a refresh. */
  incident: Incident | null;
  reminder?: number;
  created_at_ms: number;
}

export interface DeliverySettings {
  /** Longest wait for one answer (ALERT_TIMEOUT). */
  timeoutMs: number;
  /** First and longest pause between two attempts (ALERT_RETRY_MIN, ALERT_RETRY_MAX). */
  retryMinMs: number;
  retryMaxMs: number;
  /** A delivery older than this is dropped (ALERT_GIVE_UP_AFTER). */
  giveUpMs: number;
  dashboardUrl: URL;
  /** ALERTMANAGER_RESEND: also how old a refresh may be before a newer one supersedes it. */
  resendMs: number;
  /** Whom to trust for https:// receivers besides the system's CAs (TLS_CA_FILE). */
  trust?: Trust;
}

/** What the worker asks before a reminder or a refresh: is there still something to say? */
export interface DeliveryState {
  /** The incident now, if a reminder for it is still due (open, unacknowledged, unsilenced). */
  remindable(incident: Incident): Promise<Incident | null>;
  /** The open incidents routed to this receiver that no silence holds, for a refresh. */
  openFor(receiver: string): Promise<Incident[]>;
}

/**
 * The ack wait of the queues. Short, because with one delivery in flight a
 * delivery lost on its way (handed to the pull request of a notifier that just
 * stopped) holds the receiver's whole queue this long; the worker tells
 * JetStream it is still working three times as often.
 */
export const HOLD_MS = 6_000;

export function createDeliveryCounters(registry: Registry) {
  return {
    deliveries: new Counter({
      name: 'loadstar_notifier_deliveries_total',
      help: 'Deliveries by receiver and outcome: sent (2xx), dropped (refused for good, or too old), skipped (a reminder no longer due)',
      labelNames: ['receiver', 'outcome'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'loadstar_notifier_delivery_failures_total',
      help: 'Attempts that failed and are retried with backoff, by receiver',
      labelNames: ['receiver'],
      registers: [registry],
    }),
    lastError: new Gauge({
      name: 'loadstar_notifier_last_error_timestamp_seconds',
      help: "When a receiver's last attempt failed, labelled with the error",
      labelNames: ['receiver', 'error'],
      registers: [registry],
    }),
  };
}

export type DeliveryCounters = ReturnType<typeof createDeliveryCounters>;

interface Outcome {
  ok: boolean;
  /** Retrying cannot help (a 4xx other than 408 and 429). */
  permanent: boolean;
  error: string;
  /** The receiver asked for a pause (Retry-After). */
  retryAfterMs?: number;
}

/** The most of an answer read: its start goes into the error, the rest is not wanted. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends one request; never throws. `stop` abandons it (the notifier is
 * stopping). An https:// receiver is verified with the system's CAs and
 * TLS_CA_FILE's (`trust`).
 */
export async function send(
  outgoing: OutgoingRequest,
  timeoutMs: number,
  stop?: AbortSignal,
  trust?: Trust,
): Promise<Outcome> {
  // Credentials in the URL travel as Basic auth (an Alertmanager behind a proxy).
  const url = new URL(outgoing.url.href);
  const headers = { ...outgoing.headers };
  if (url.username || url.password) {
    const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.Authorization ??= `Basic ${Buffer.from(user).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  try {
    const res = await request(url, {
      method: 'POST',
      headers,
      body: outgoing.body,
      signal: stop,
      timeoutMs,
      // An answer too long to read whole is still an answer: its status decides.
      maxBytes: MAX_ANSWER_BYTES,
      trust,
    });
    const text = res.text.slice(0, 200).replace(/\s+/g, ' ').trim();
    if (res.status >= 200 && res.status < 300) return { ok: true, permanent: false, error: '' };
    if (res.status >= 300 && res.status < 400) {
      // A redirect is not followed (it could lead a payload anywhere): retrying will not change it.
      const to = res.headers.location ? ` to ${res.headers.location}` : '';
      return {
        ok: false,
        permanent: true,
        error: `answered HTTP ${res.status} (a redirect${to}; not followed)`,
      };
    }
    const retryAfter = Number(res.headers['retry-after']);
    return {
      ok: false,
      permanent: res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429,
      error: `answered HTTP ${res.status}${text ? `: ${text}` : ''}`,
      retryAfterMs: retryAfter > 0 ? retryAfter * 1000 : undefined,
    };
  } catch (err) {
    const error = stop?.aborted
      ? 'abandoned: the notifier is stopping'
      : err instanceof RequestError && /timeout/.test(err.message)
        ? `no answer within ${timeoutMs} ms`
        : (err as Error).message;
    return { ok: false, permanent: false, error };
  }
}

export class DeliveryWorker {
  private readonly reader: DurableReader;
  private readonly stopping = new AbortController();
  private lastErrorLabel?: string;

  constructor(
    nats: NatsLink,
    private readonly redis: RedisClient,
    readonly spec: ReceiverSpec,
    private readonly kind: ReceiverKind,
    private readonly settings: DeliverySettings,
    private readonly state: DeliveryState,
    private readonly counters: DeliveryCounters,
    private readonly log: Log,
  ) {
    this.reader = new DurableReader(
      nats,
      {
        stream: DELIVERIES_STREAM,
        name: deliveryConsumer(spec.name),
        filter: deliverySubject(spec.name),
        batch: 1,
        // One at a time across every copy: the order of the stream is the order of delivery.
        maxAckPending: 1,
        ackWaitMs: HOLD_MS,
        pullExpiresMs: 5_000,
      },
      log,
      (msg) => this.take(msg),
    );
  }

  start(): void {
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.reader.stop();
  }

  private async take(msg: JsMsg): Promise<void> {
    let delivery: Delivery;
    try {
      delivery = JSON.parse(msg.string()) as Delivery;
    } catch {
      this.log.warn('not a delivery; dropped', { receiver: this.spec.name, seq: msg.seq });
      msg.term();
      return;
    }
    // Holds the delivery while attempts and pauses last longer than the ack wait.
    const holding = setInterval(() => msg.working(), HOLD_MS / 3);
    try {
      await this.deliver(msg, delivery);
    } finally {
      clearInterval(holding);
    }
  }

  private async deliver(msg: JsMsg, delivery: Delivery): Promise<void> {
    const receiver = this.spec.name;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping.signal.aborted) {
        // Back to the queue at once: the next copy (or this one, restarted) takes it in order.
        msg.nak();
        return;
      }
      const now = Date.now();
      if (now - delivery.created_at_ms > this.settings.giveUpMs) {
        await this.dropped(delivery, 'older than ALERT_GIVE_UP_AFTER; given up');
        msg.term();
        return;
      }
      let request: OutgoingRequest | null;
      try {
        request = await this.prepare(delivery, now);
      } catch (err) {
        // Redis away: the question "is it still due" waits, like a failed attempt.
        await this.failed(delivery, `cannot read the incident: ${(err as Error).message}`, attempt);
        await this.pause(attempt);
        continue;
      }
      if (request === null) {
        this.counters.deliveries.inc({ receiver, outcome: 'skipped' });
        msg.ack();
        return;
      }
      const outcome = await send(
        request,
        this.settings.timeoutMs,
        this.stopping.signal,
        this.settings.trust,
      );
      if (this.stopping.signal.aborted && !outcome.ok) {
        msg.nak();
        return;
      }
      if (outcome.ok) {
        await this.sent(delivery, attempt);
        msg.ack();
        return;
      }
      if (outcome.permanent) {
        await this.dropped(delivery, outcome.error);
        msg.term();
        return;
      }
      await this.failed(delivery, outcome.error, attempt);
      await this.pause(attempt, outcome.retryAfterMs);
    }
  }

  /** The request, or null when there is nothing left to say (a reminder no longer due, a stale refresh). */
  private async prepare(delivery: Delivery, now: number): Promise<OutgoingRequest | null> {
    const context: FormatContext = {
      dashboardUrl: this.settings.dashboardUrl,
      now,
      resendMs: this.settings.resendMs,
    };
    if (delivery.transition === 'refresh') {
      // A newer refresh is behind it in the queue; and nothing open, nothing to re-assert.
      if (now - delivery.created_at_ms > 2 * this.settings.resendMs || !this.kind.refresh)
        return null;
      const open = await this.state.openFor(this.spec.name);
      return open.length === 0 ? null : this.kind.refresh(this.spec, open, context);
    }
    if (!delivery.incident) return null;
    if (delivery.transition === 'reminder') {
      const current = await this.state.remindable(delivery.incident);
      return current ? this.kind.request(this.spec, delivery, current, context) : null;
    }
    return this.kind.request(this.spec, delivery, delivery.incident, context);
  }

  private pause(attempt: number, askedMs?: number): Promise<void> {
    const backoff = Math.min(
      this.settings.retryMaxMs,
      this.settings.retryMinMs * 2 ** Math.min(attempt - 1, 30),
    );
    const ms = Math.min(this.settings.retryMaxMs, Math.max(backoff, askedMs ?? 0));
    return new Promise((resolve) => {
      const stop = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.stopping.signal.removeEventListener('abort', stop);
        resolve();
      }, ms);
      this.stopping.signal.addEventListener('abort', stop, { once: true });
    });
  }

  private async sent(delivery: Delivery, attempt: number): Promise<void> {
    this.counters.deliveries.inc({ receiver: this.spec.name, outcome: 'sent' });
    await this.stat('sent', { last_sent_at: String(Date.now()) });
    const fields = { receiver: this.spec.name, key: delivery.key };
    if (attempt > 1) this.log.info('alert sent after retries', { ...fields, attempts: attempt });
    else this.log.info('alert sent', fields);
  }

  private async failed(delivery: Delivery, error: string, attempt: number): Promise<void> {
    this.counters.failures.inc({ receiver: this.spec.name });
    this.noteError(error);
    await this.stat('failed', { last_error: error, last_error_at: String(Date.now()) });
    // Once per delivery, not once per attempt: a receiver down for an hour is one line.
    if (attempt === 1)
      this.log.warn('alert not delivered; retrying with backoff', {
        receiver: this.spec.name,
        key: delivery.key,
        error,
      });
  }

  private async dropped(delivery: Delivery, error: string): Promise<void> {
    this.counters.deliveries.inc({ receiver: this.spec.name, outcome: 'dropped' });
    this.noteError(error);
    await this.stat('dropped', { last_error: error, last_error_at: String(Date.now()) });
    this.log.error('alert dropped', { receiver: this.spec.name, key: delivery.key, error });
  }

  private noteError(error: string): void {
    const label = error.slice(0, 120);
    if (this.lastErrorLabel !== undefined && this.lastErrorLabel !== label)
      this.counters.lastError.remove({ receiver: this.spec.name, error: this.lastErrorLabel });
    this.lastErrorLabel = label;
    this.counters.lastError.set({ receiver: this.spec.name, error: label }, Date.now() / 1000);
  }

  /** The shared counters of GET /api/v1/receivers; best effort (Redis away: /metrics still counts). */
  private async stat(counter: string, fields: Record<string, string>): Promise<void> {
    const key = alertKeys.receiverStats(this.spec.name);
    await Promise.all([this.redis.hincrby(key, counter, 1), this.redis.hset(key, fields)]).catch(
      (err: Error) => this.log.debug('could not count a delivery', { error: err.message }),
    );
  }
}
