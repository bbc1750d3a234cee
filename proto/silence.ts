// Silences: "send nothing about incidents that match, from start to end", set
// by operators (gateway API, dashboard) and read by the notifier for every
// transition it routes. One JSON per silence in a Redis hash (alertKeys.silences);
// this module owns that format, its checks and its matching.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { alertKeys } from './keys.ts';
import { namePattern } from './pattern.ts';
import { InputError, parseTime, quoteName } from './sample.ts';

/** What a silence matches: every given field must match (exact, glob as web-*, or /regex/). */
export interface SilenceMatchers {
  host?: string;
  rule?: string;
  severity?: string;
}

export interface Silence {
  id: string;
  matchers: SilenceMatchers;
  starts_at_ms: number;
  ends_at_ms: number;
  comment: string;
  author: string;
  created_at_ms: number;
}

export type SilenceState = 'pending' | 'active' | 'expired';

/** What an incident is matched by. */
export interface Silenceable {
  host: string;
  rule: string;
  severity: string;
}

export const SILENCE_ID = /^[0-9a-f]{16}$/;
const MATCHER_FIELDS = ['host', 'rule', 'severity'] as const;
const FIELDS = new Set(['matchers', 'starts_at', 'ends_at', 'comment', 'author']);
/** Expired silences stay listed this long, so that "who silenced what last night" has an answer. */
export const EXPIRED_KEPT_MS = 7 * 86_400_000;

/** Checks a silence as posted ({matchers, starts_at?, ends_at, comment, author}); errors name the field. */
export function parseSilence(body: unknown, now: number): Omit<Silence, 'id' | 'created_at_ms'> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InputError('a silence is a JSON object: {"matchers": {...}, "ends_at": ..., ...}');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b))
    if (!FIELDS.has(key))
      throw new InputError(
        `field ${quoteName(key)} is not a silence field (${[...FIELDS].join(', ')})`,
      );
  const m = b.matchers;
  if (!m || typeof m !== 'object' || Array.isArray(m))
    throw new InputError("field 'matchers' must be an object of host, rule and/or severity");
  const matchers: SilenceMatchers = {};
  for (const [key, value] of Object.entries(m)) {
    if (!(MATCHER_FIELDS as readonly string[]).includes(key))
      throw new InputError(`matcher ${quoteName(key)} is not one of ${MATCHER_FIELDS.join(', ')}`);
    if (typeof value !== 'string' || value.length === 0 || value.length > 256)
      throw new InputError(`matcher '${key}' must be a name or pattern of 1 to 256 characters`);
    try {
      namePattern(value);
    } catch {
      throw new InputError(`matcher '${key}' ${quoteName(value)} is not a valid pattern`);
    }
    matchers[key as keyof SilenceMatchers] = value;
  }
  if (Object.keys(matchers).length === 0)
    throw new InputError(
      "field 'matchers' names nothing: a silence needs host, rule or severity (it would silence everything)",
    );
  const time = (field: string): number | undefined => {
    const value = b[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new InputError(`field '${field}' must be epoch milliseconds or an ISO-8601 time`);
    return parseTime(String(value), `field '${field}'`);
  };
  const startsAt = time('starts_at') ?? now;
  const endsAt = time('ends_at');
  if (endsAt === undefined) throw new InputError("field 'ends_at' is missing: when does it end?");
  if (endsAt <= now) throw new InputError("field 'ends_at' is in the past");
  if (endsAt <= startsAt) throw new InputError("field 'ends_at' must be after 'starts_at'");
  const text = (field: string, max: number): string => {
    const value = b[field];
    if (typeof value !== 'string' || value.trim() === '' || value.length > max)
      throw new InputError(`field '${field}' must be text of 1 to ${max} characters`);
    return value.trim();
  };
  return {
    matchers,
    starts_at_ms: startsAt,
    ends_at_ms: endsAt,
    comment: text('comment', 1000),
    author: text('author', 100),
  };
}

export function silenceState(silence: Silence, now: number): SilenceState {
  if (now < silence.starts_at_ms) return 'pending';
  return now < silence.ends_at_ms ? 'active' : 'expired';
}

/** Whether the silence holds the incident now: active, and every matcher it has matches. */
export function silences(silence: Silence, incident: Silenceable, now: number): boolean {
  if (silenceState(silence, now) !== 'active') return false;
  return MATCHER_FIELDS.every((field) => {
    const pattern = silence.matchers[field];
    return pattern === undefined || namePattern(pattern).test(incident[field]);
  });
}

/** A silence as the API shows it: times also as ISO-8601, and its state now. */
export function silenceView(s: Silence, now: number): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: s.id,
    matchers: s.matchers,
    starts_at: iso(s.starts_at_ms),
    starts_at_ms: s.starts_at_ms,
    ends_at: iso(s.ends_at_ms),
    ends_at_ms: s.ends_at_ms,
    comment: s.comment,
    author: s.author,
    created_at: iso(s.created_at_ms),
    created_at_ms: s.created_at_ms,
    state: silenceState(s, now),
  };
}

/** The silences in Redis. Reads fail as Redis does; the caller decides (503, or retry). */
export class SilenceStore {
  constructor(private readonly redis: RedisClient) {}

  async list(): Promise<Silence[]> {
    const all = await this.redis.hgetall(alertKeys.silences);
    return Object.values(all).map((text) => JSON.parse(text) as Silence);
  }

  /** The silences that hold this incident now (empty: it may be sent). */
  async holding(incident: Silenceable, now = Date.now()): Promise<Silence[]> {
    return (await this.list()).filter((s) => silences(s, incident, now));
  }

  async create(input: Omit<Silence, 'id' | 'created_at_ms'>, now: number): Promise<Silence> {
    const silence: Silence = { id: randomBytes(8).toString('hex'), ...input, created_at_ms: now };
    await this.redis.hset(alertKeys.silences, silence.id, JSON.stringify(silence));
    return silence;
  }

  /** Removes a silence; resolves with it, or null when there was none. */
  async delete(id: string): Promise<Silence | null> {
    const text = await this.redis.hget(alertKeys.silences, id);
    if (!text) return null;
    await this.redis.hdel(alertKeys.silences, id);
    return JSON.parse(text) as Silence;
  }

  /** Forgets silences that ended more than EXPIRED_KEPT_MS ago. */
  async prune(now: number): Promise<void> {
    const old = (await this.list()).filter((s) => s.ends_at_ms < now - EXPIRED_KEPT_MS);
    if (old.length > 0) await this.redis.hdel(alertKeys.silences, ...old.map((s) => s.id));
  }
}
