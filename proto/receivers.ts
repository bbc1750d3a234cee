// What the notifier and the gateway agree on about receivers (the places alerts
// go): their names and types, the deliveries stream whose per-receiver durable
// consumers hold what is still to be sent, and the status the notifier keeps in
// Redis, which the gateway serves as GET /api/v1/receivers.
import type { JetStreamManager } from 'nats';
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { alertKeys } from './keys.ts';

export type ReceiverType = 'webhook' | 'slack' | 'alertmanager';
export const RECEIVER_TYPES: readonly ReceiverType[] = ['webhook', 'slack', 'alertmanager'];
/** A receiver's name is a NATS subject token and a consumer name too. */
export const RECEIVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Every delivery still to be made, one subject per receiver (a work queue: sent ones leave). */
export const DELIVERIES_STREAM = 'LOADSTAR_DELIVERIES';
export const DELIVERIES_SUBJECTS = 'deliveries.>';
export const deliverySubject = (receiver: string) => `deliveries.${receiver}`;
/** Each receiver's own durable consumer: one that is down or slow holds back only itself. */
export const deliveryConsumer = (receiver: string) => `loadstar-notifier-${receiver}`;

/** A receiver as the notifier runs it, registered in Redis for the gateway. */
export interface ReceiverInfo {
  name: string;
  type: ReceiverType;
  /** Origin only: webhook paths carry secrets (Slack's do). */
  url: string;
  /** Where it was configured: an ALERT_*_URLS setting, or the receivers of RULES_FILE. */
  from: 'settings' | 'file';
}

/** Shown instead of a receiver's URL: its origin, never the path or query that may hold a secret. */
export function redactedUrl(url: URL): string {
  return url.pathname === '/' && url.search === '' ? url.origin : `${url.origin}/…`;
}

export interface ReceiverStatus extends ReceiverInfo {
  /** Deliveries made (2xx), over every notifier copy. */
  sent: number;
  /** Attempts that failed and will be retried. */
  failed: number;
  /** Deliveries given up: refused for good (4xx), or older than ALERT_GIVE_UP_AFTER. */
  dropped: number;
  /** Deliveries waiting in the receiver's queue (its durable consumer). */
  pending: number;
  last_error: string | null;
  last_error_at_ms: number | null;
  last_sent_at_ms: number | null;
}

/** The counters fields of a receiver's stats hash. */
export const STAT_FIELDS = ['sent', 'failed', 'dropped'] as const;

/** Reads every registered receiver with its counters and queue: the gateway's view. */
export async function readReceiverStatus(
  redis: RedisClient,
  jsm: JetStreamManager,
): Promise<ReceiverStatus[]> {
  const registered = Object.values(await redis.hgetall(alertKeys.receivers))
    .map((text) => JSON.parse(text) as ReceiverInfo)
    .sort((a, b) => a.name.localeCompare(b.name));
  return Promise.all(
    registered.map(async (info) => {
      const stats = await redis.hgetall(alertKeys.receiverStats(info.name));
      const queue = await jsm.consumers
        .info(DELIVERIES_STREAM, deliveryConsumer(info.name))
        .catch(() => null);
      const number = (field: string) => Number(stats[field] ?? 0);
      const time = (field: string) => (stats[field] ? Number(stats[field]) : null);
      return {
        ...info,
        sent: number('sent'),
        failed: number('failed'),
        dropped: number('dropped'),
        pending: queue ? queue.num_pending + queue.num_ack_pending : 0,
        last_error: stats.last_error ?? null,
        last_error_at_ms: time('last_error_at'),
        last_sent_at_ms: time('last_sent_at'),
      };
    }),
  );
}

export function receiverView(r: ReceiverStatus): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    name: r.name,
    type: r.type,
    url: r.url,
    from: r.from,
    sent: r.sent,
    failed: r.failed,
    dropped: r.dropped,
    pending: r.pending,
    last_error: r.last_error,
    last_error_at: iso(r.last_error_at_ms),
    last_sent_at: iso(r.last_sent_at_ms),
  };
}
