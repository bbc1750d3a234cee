// Reads the Redis view the fold writes: latest values (from any host or one
// host) and the hosts seen. Read-only; one round trip per question where it can.
import { UnavailableError } from '../proto/http.ts';
import { keys } from '../proto/keys.ts';
import type { RedisClient } from '../proto/redis.ts';
import { checkHost, checkMetricName, InputError } from '../proto/sample.ts';
import {
  historyKeys,
  keptSamples,
  latestValue,
  parseGlobalLatest,
  parseHostLatest,
} from '../proto/store/codec.ts';

export interface Reading {
  topic: string;
  value: number;
  host: string;
  /** The sample's own time, epoch ms. */
  time: number;
  /** Seconds between samples as the host declared it; 0 when unknown. */
  interval: number;
}

export interface HostInfo {
  host: string;
  lastSeen: number;
  firstSeen: number;
  interval: number;
  samples: number;
}

/** Freshness rules: a value is stale once older than `factor` intervals of its host. */
export interface Staleness {
  factor: number;
  /** Interval assumed for a host that declared none (INTERVAL). */
  defaultIntervalSeconds: number;
}

export function ageSeconds(time: number, now = Date.now()): number {
  return Math.max(0, (now - time) / 1000);
}

export function isStale(
  time: number,
  interval: number,
  rules: Staleness,
  now = Date.now(),
): boolean {
  return (
    ageSeconds(time, now) > rules.factor * (interval > 0 ? interval : rules.defaultIntervalSeconds)
  );
}

/** `topics=a,b` (or repeated) into distinct metric names, checked; empty items are ignored. */
export function parseTopics(
  raw: string | string[] | undefined,
  max: number,
  param = 'topics',
): string[] {
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  const names = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (names.length === 0) {
    throw new InputError(
      `query parameter '${param}' is missing or empty: name one or more metrics, as ?${param}=cpu,mem`,
    );
  }
  if (names.length > max)
    throw new InputError(`'${param}' names ${names.length} metrics; the limit is ${max}`);
  for (const name of names) checkMetricName(name, 'topic');
  return names;
}

export function parseHostParam(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (Array.isArray(raw)) throw new InputError("query parameter 'host' is given more than once");
  return checkHost(raw, "query parameter 'host'");
}

/** A Redis failure as the 503 it is for the client. */
export function unavailable(err: unknown): never {
  throw new UnavailableError(`Redis is not answering (${(err as Error).message}); retry later`);
}

export class ReadModel {
  constructor(
    private readonly redis: RedisClient,
    /** HISTORY_RAW_RETENTION: how far back the samples history keeps reach. */
    private readonly rawRetentionMs: number,
  ) {}

  /** The newest reading of each topic, or null where there is none yet. */
  async latest(topics: string[], host?: string): Promise<(Reading | null)[]> {
    if (host === undefined) {
      const stored = await this.redis.hmget(keys.latest, ...topics).catch(unavailable);
      return stored.map((text, i) =>
        text === null ? null : { topic: topics[i]!, ...parseGlobalLatest(text) },
      );
    }
    const [stored, interval] = await Promise.all([
      this.redis.hmget(keys.hostLatest(host), ...topics),
      this.redis.hget(keys.hostMeta(host), 'interval'),
    ]).catch(unavailable);
    return stored.map((text, i) =>
      text === null
        ? null
        : { topic: topics[i]!, ...parseHostLatest(text), host, interval: Number(interval ?? 0) },
    );
  }

  /** Just the values, for the `?topics=` contract: the cheapest read there is. */
  async latestValues(topics: string[], host?: string): Promise<(number | null)[]> {
    const key = host === undefined ? keys.latest : keys.hostLatest(host);
    const stored = await this.redis.hmget(key, ...topics).catch(unavailable);
    return stored.map((text) => (text === null ? null : latestValue(text)));
  }

  /** Samples history keeps now, per host. */
  async storedCounts(hosts: string[]): Promise<number[]> {
    const counts = await Promise.all(
      hosts.map((h) => this.redis.hgetall(historyKeys.kept(h))),
    ).catch(unavailable);
    const now = Date.now();
    return counts.map((c) => keptSamples(c, this.rawRetentionMs, now));
  }

  /** The metric names these hosts report, sorted, each once. */
  async metricNames(hosts: string[]): Promise<string[]> {
    const sets = await Promise.all(hosts.map((h) => this.redis.smembers(keys.metrics(h)))).catch(
      unavailable,
    );
    return [...new Set(sets.flat())].sort();
  }

  async hosts(): Promise<HostInfo[]> {
    const seen = await this.redis.zrange(keys.hosts, '0', '-1', 'WITHSCORES').catch(unavailable);
    const names: string[] = [];
    for (let i = 0; i < seen.length; i += 2) names.push(seen[i]!);
    const metas = await Promise.all(names.map((h) => this.redis.hgetall(keys.hostMeta(h)))).catch(
      unavailable,
    );
    return names.map((host, i) => {
      const meta = metas[i]!;
      return {
        host,
        lastSeen: Number(meta.last_seen ?? seen[2 * i + 1]),
        firstSeen: Number(meta.first_seen ?? seen[2 * i + 1]),
        interval: Number(meta.interval ?? 0),
        samples: Number(meta.samples ?? 0),
      };
    });
  }
}
