// Reads the Redis view the fold writes: latest values (from any host or one
// host) and the hosts seen. Read-only; one round trip per question where it can.
import { UnavailableError } from '../deploy/runtime/http.ts';
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { keys } from '../proto/keys.ts';
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

export interface HostSeen {
  host: string;
  /** When the fold last saw it (epoch ms): the host list's own score. */
  lastSeen: number;
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
  /** A host is offline once silent for this many of its intervals (OFFLINE_FACTOR, above `factor`). */
  offlineFactor: number;
}

/** How a host looks to an operator: reporting, late, or gone. */
export type HostState = 'live' | 'stale' | 'offline';

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

/** live, stale (more than STALE_FACTOR intervals late) or offline (more than OFFLINE_FACTOR). */
export function hostState(
  lastSeen: number,
  interval: number,
  rules: Staleness,
  now = Date.now(),
): HostState {
  const age = ageSeconds(lastSeen, now);
  const each = interval > 0 ? interval : rules.defaultIntervalSeconds;
  if (age > rules.offlineFactor * each) return 'offline';
  return age > rules.factor * each ? 'stale' : 'live';
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
    return this.hostInfos(await this.hostsSeen());
  }

  /** The host list with each host's last-seen time (one read); `only` narrows it to one host. */
  async hostsSeen(only?: string): Promise<HostSeen[]> {
    if (only !== undefined) {
      const score = await this.redis.zscore(keys.hosts, only).catch(unavailable);
      return score === null ? [] : [{ host: only, lastSeen: Number(score) }];
    }
    const seen = await this.redis.zrange(keys.hosts, '0', '-1', 'WITHSCORES').catch(unavailable);
    const out: HostSeen[] = [];
    for (let i = 0; i < seen.length; i += 2)
      out.push({ host: seen[i]!, lastSeen: Number(seen[i + 1]) });
    return out;
  }

  /**
   * Each host's meta. The reads are issued together, so a thousand hosts cost
   * one pipelined round trip (the connection pipelines them), not a thousand.
   */
  async hostInfos(seen: HostSeen[]): Promise<HostInfo[]> {
    const metas = await Promise.all(
      seen.map((s) => this.redis.hgetall(keys.hostMeta(s.host))),
    ).catch(unavailable);
    return seen.map(({ host, lastSeen }, i) => {
      const meta = metas[i]!;
      return {
        host,
        lastSeen: Number(meta.last_seen ?? lastSeen),
        firstSeen: Number(meta.first_seen ?? lastSeen),
        interval: Number(meta.interval ?? 0),
        samples: Number(meta.samples ?? 0),
      };
    });
  }

  /** Each host's declared interval in seconds (0 when unknown), all hosts' reads issued together. */
  async intervals(hosts: string[]): Promise<number[]> {
    const stored = await Promise.all(
      hosts.map((h) => this.redis.hget(keys.hostMeta(h), 'interval')),
    ).catch(unavailable);
    return stored.map((text) => Number(text ?? 0));
  }

  /** The newest values of `topics` of each host (null where none), all hosts' reads issued together. */
  async latestOfHosts(hosts: string[], topics: string[]): Promise<(number | null)[][]> {
    const stored = await Promise.all(
      hosts.map((h) => this.redis.hmget(keys.hostLatest(h), ...topics)),
    ).catch(unavailable);
    return stored.map((values) => values.map((text) => (text === null ? null : latestValue(text))));
  }
}
