// Acknowledgements: "someone is on it". An acknowledged incident gets no
// reminders; its transitions still go out. One JSON per incident in a Redis
// hash (alertKeys.acks), written once: the first acknowledgement stands.

import type { RedisClient } from '../deploy/runtime/redis.ts';
import { alertKeys } from './keys.ts';
import { InputError, quoteName } from './sample.ts';

export interface Acknowledgement {
  author: string;
  comment: string;
  at_ms: number;
}

const FIELDS = new Set(['author', 'comment']);

/** Checks an acknowledgement as posted: an empty body, or {author?, comment?}. */
export function parseAck(body: unknown, now: number): Acknowledgement {
  if (body === undefined) return { author: 'unknown', comment: '', at_ms: now };
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InputError('an acknowledgement is a JSON object: {"author": ..., "comment": ...}');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b))
    if (!FIELDS.has(key))
      throw new InputError(
        `field ${quoteName(key)} is not an acknowledgement field (author, comment)`,
      );
  const text = (field: string, max: number, fallback: string): string => {
    const value = b[field];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.length > max)
      throw new InputError(`field '${field}' must be text of at most ${max} characters`);
    return value.trim() || fallback;
  };
  return { author: text('author', 100, 'unknown'), comment: text('comment', 1000, ''), at_ms: now };
}

export function ackView(ack: Acknowledgement): Record<string, unknown> {
  return {
    author: ack.author,
    comment: ack.comment,
    at: new Date(ack.at_ms).toISOString(),
    at_ms: ack.at_ms,
  };
}

export class AckStore {
  constructor(private readonly redis: RedisClient) {}

  /** Records the acknowledgement unless there is one; resolves with the one that stands. */
  async acknowledge(id: string, ack: Acknowledgement): Promise<Acknowledgement> {
    const written = await this.redis.hsetnx(alertKeys.acks, id, JSON.stringify(ack));
    if (written === 1) return ack;
    return (await this.get(id)) ?? ack;
  }

  async get(id: string): Promise<Acknowledgement | null> {
    const text = await this.redis.hget(alertKeys.acks, id);
    return text ? (JSON.parse(text) as Acknowledgement) : null;
  }

  /** The acknowledgements of these incidents, in their order (null: none). */
  async many(ids: string[]): Promise<(Acknowledgement | null)[]> {
    if (ids.length === 0) return [];
    const texts = await this.redis.hmget(alertKeys.acks, ...ids);
    return texts.map((t) => (t ? (JSON.parse(t) as Acknowledgement) : null));
  }
}
