// Keeps one agent from growing the store without bound: at most MAX_HOSTS hosts
// and MAX_METRICS_PER_HOST metric names per host. Hosts and names the store
// knows always pass; only a new one that would pass a limit is refused (429).
import { UnavailableError } from '../deploy/runtime/http.ts';
import { isRedisReady, type RedisClient } from '../deploy/runtime/redis.ts';
import { keys } from '../proto/keys.ts';
import { InputError, quoteName, type Sample } from '../proto/sample.ts';

export interface GrowthSettings {
  /** Most hosts the store keeps (MAX_HOSTS); 0: no limit. */
  maxHosts: number;
  /** Most distinct metric names per host (MAX_METRICS_PER_HOST); 0: no limit. */
  maxMetricsPerHost: number;
}

/**
 * How long a host or name seen in Redis is trusted without asking again. Only a
 * deletion makes it wrong (the fold only adds), and a deleted name that comes
 * back within this time is not counted: the overshoot stays small.
 */
const KNOWN_FOR_MS = 30_000;
/** Names remembered over all hosts: bounds this cache's memory whatever the limits. */
const MAX_CACHED_NAMES = 200_000;

interface KnownNames {
  until: number;
  names: Set<string>;
}

/** The outcome of a check: per sample, null (let in) or the 429 refusing it. */
export interface Admission {
  refused: (InputError | null)[];
  /** Call once the samples let in were accepted, or failed: either way they are no longer in flight. */
  settle(accepted: boolean): void;
}

/**
 * Counts come from the fold's own keys: `{loadstar}:hosts` (ZCARD) and
 * `ls:{host}:metrics` (SCARD). Within one receiver the limits are exact: hosts
 * and names let in but not yet folded are counted as in flight. Receivers do
 * not see each other's in-flight ones, so newcomers that reach different
 * receivers within the same few milliseconds (one fold) may pass together.
 */
export class GrowthLimits {
  private readonly knownHosts = new Map<string, number>();
  private readonly knownNames = new Map<string, KnownNames>();
  private cachedNames = 0;
  /** Hosts and names let in and not yet settled, with how many requests carry each. */
  private readonly flightHosts = new Map<string, number>();
  private readonly flightNames = new Map<string, Map<string, number>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly settings: GrowthSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks samples in order, as if each were posted alone; a batch's own newcomers count too. */
  async admit(samples: Sample[]): Promise<Admission> {
    const { maxHosts, maxMetricsPerHost } = this.settings;
    const none: Admission = { refused: samples.map(() => null), settle: () => {} };
    if (maxHosts === 0 && maxMetricsPerHost === 0) return none;
    const now = this.now();
    const lookup = await this.lookUp(samples, now);
    if (!lookup) return none;

    // From here to the end nothing awaits: the check and the reservation are one step.
    let hostCount = lookup.hostCount;
    for (const host of this.flightHosts.keys()) if (!lookup.hostsStored.has(host)) hostCount++;
    const nameCounts = new Map<string, number>();
    const nameCount = (host: string): number => {
      let count = nameCounts.get(host);
      if (count === undefined) {
        const stored = lookup.names.get(host);
        count = stored?.count ?? 0;
        for (const name of this.flightNames.get(host)?.keys() ?? [])
          if (!stored?.present.has(name)) count++;
        nameCounts.set(host, count);
      }
      return count;
    };
    const reserved: { host: string; names: string[]; newHost: boolean }[] = [];
    const refused = samples.map((sample): InputError | null => {
      const { host } = sample;
      const newHost =
        maxHosts > 0 &&
        !this.isKnownHost(host, now) &&
        !lookup.hostsStored.has(host) &&
        !this.flightHosts.has(host);
      if (newHost && hostCount >= maxHosts) {
        return new InputError(
          `the store holds ${hostCount} hosts, the limit of ${maxHosts} (MAX_HOSTS): new host ${quoteName(host)} refused; the hosts it holds are still accepted`,
          429,
          'host_limit',
        );
      }
      const names: string[] = [];
      if (maxMetricsPerHost > 0) {
        const known = this.knownNamesOf(host, now);
        const stored = lookup.names.get(host)?.present;
        const flight = this.flightNames.get(host);
        for (const name in sample.metrics) {
          if (known?.has(name) || stored?.has(name) || flight?.has(name)) continue;
          names.push(name);
        }
        const count = nameCount(host);
        // Only new names are refused: a host already past the limit (lowered under it,
        // or off before) keeps every name it has.
        if (names.length > 0 && count + names.length > maxMetricsPerHost) {
          const added =
            names.length === 1
              ? `new metric ${quoteName(names[0]!)}`
              : `${names.length} new metrics (first ${quoteName(names[0]!)})`;
          return new InputError(
            `host ${quoteName(host)} reports ${count} metrics: ${added} would pass the limit of ${maxMetricsPerHost} (MAX_METRICS_PER_HOST), refused; the metrics it reports are still accepted`,
            429,
            'metric_limit',
          );
        }
        nameCounts.set(host, count + names.length);
      }
      if (newHost) hostCount++;
      this.reserve(host, newHost, names);
      reserved.push({ host, names, newHost });
      return null;
    });
    let settled = false;
    return {
      refused,
      settle: (accepted) => {
        if (settled) return;
        settled = true;
        for (const r of reserved) this.release(r.host, r.newHost, r.names, accepted);
      },
    };
  }

  /** One round trip for what the cache does not know; null when the cache knows it all. */
  private async lookUp(samples: Sample[], now: number) {
    const { maxHosts, maxMetricsPerHost } = this.settings;
    const hostsToAsk = new Set<string>();
    const namesToAsk = new Map<string, Set<string>>();
    for (const sample of samples) {
      if (maxHosts > 0 && !this.isKnownHost(sample.host, now)) hostsToAsk.add(sample.host);
      if (maxMetricsPerHost === 0) continue;
      const known = this.knownNamesOf(sample.host, now);
      for (const name in sample.metrics) {
        if (known?.has(name)) continue;
        let ask = namesToAsk.get(sample.host);
        if (!ask) {
          ask = new Set(this.flightNames.get(sample.host)?.keys() ?? []);
          namesToAsk.set(sample.host, ask);
        }
        ask.add(name);
      }
    }
    if (hostsToAsk.size === 0 && namesToAsk.size === 0) return null;
    // The same answer ingest gives: whichever check meets the outage first, the client reads one message.
    if (!isRedisReady(this.redis))
      throw new UnavailableError('Redis is not reachable; nothing was accepted, retry later');
    // In-flight hosts are asked about too: once folded, they are in ZCARD and must not count twice.
    if (hostsToAsk.size > 0) for (const host of this.flightHosts.keys()) hostsToAsk.add(host);
    const hostList = [...hostsToAsk];
    const nameLists = [...namesToAsk].map(([host, names]) => [host, [...names]] as const);
    try {
      const [hostCount, hostScores, ...perHost] = await Promise.all([
        hostList.length > 0 ? this.redis.zcard(keys.hosts) : 0,
        hostList.length > 0 ? this.redis.zmscore(keys.hosts, ...hostList) : [],
        ...nameLists.map(([host, names]) =>
          Promise.all([
            this.redis.scard(keys.metrics(host)),
            this.redis.smismember(keys.metrics(host), ...names),
          ]),
        ),
      ]);
      const hostsStored = new Set<string>();
      (hostScores as unknown[]).forEach((score, i) => {
        if (score === null) return;
        hostsStored.add(hostList[i]!);
        this.rememberHost(hostList[i]!, now);
      });
      const names = new Map<string, { count: number; present: Set<string> }>();
      nameLists.forEach(([host, asked], i) => {
        const [count, flags] = perHost[i] as [number, number[]];
        const present = new Set(asked.filter((_, j) => flags[j] === 1));
        names.set(host, { count, present });
        this.remember(host, present, now);
      });
      return { hostCount: hostCount as number, hostsStored, names };
    } catch (err) {
      throw new UnavailableError(
        `Redis did not answer the limits check (${(err as Error).message}); nothing was accepted, retry later`,
      );
    }
  }

  private isKnownHost(host: string, now: number): boolean {
    const until = this.knownHosts.get(host);
    if (until === undefined) return false;
    if (until > now) return true;
    this.knownHosts.delete(host);
    return false;
  }

  private knownNamesOf(host: string, now: number): Set<string> | undefined {
    const known = this.knownNames.get(host);
    if (!known) return undefined;
    if (known.until > now) return known.names;
    this.forget(host, known);
    return undefined;
  }

  private remember(host: string, names: Iterable<string>, now: number): void {
    let known = this.knownNames.get(host);
    if (!known || known.until <= now) {
      if (known) this.forget(host, known);
      known = { until: now + KNOWN_FOR_MS, names: new Set() };
      this.knownNames.set(host, known);
    }
    for (const name of names) {
      if (known.names.has(name)) continue;
      known.names.add(name);
      this.cachedNames++;
    }
    // The oldest hosts go first (a Map iterates in insertion order).
    for (const [oldest, entry] of this.knownNames) {
      if (this.cachedNames <= MAX_CACHED_NAMES || oldest === host) break;
      this.forget(oldest, entry);
    }
  }

  private rememberHost(host: string, now: number): void {
    // Re-inserted, so that the oldest entry is first when the cache is full.
    this.knownHosts.delete(host);
    this.knownHosts.set(host, now + KNOWN_FOR_MS);
    for (const oldest of this.knownHosts.keys()) {
      if (this.knownHosts.size <= MAX_CACHED_NAMES) break;
      this.knownHosts.delete(oldest);
    }
  }

  private forget(host: string, known: KnownNames): void {
    this.knownNames.delete(host);
    this.cachedNames -= known.names.size;
  }

  private reserve(host: string, newHost: boolean, names: string[]): void {
    if (newHost) this.flightHosts.set(host, (this.flightHosts.get(host) ?? 0) + 1);
    if (names.length === 0) return;
    let flight = this.flightNames.get(host);
    if (!flight) {
      flight = new Map();
      this.flightNames.set(host, flight);
    }
    for (const name of names) flight.set(name, (flight.get(name) ?? 0) + 1);
  }

  private release(host: string, newHost: boolean, names: string[], accepted: boolean): void {
    const now = this.now();
    if (newHost) {
      const left = (this.flightHosts.get(host) ?? 1) - 1;
      if (left > 0) this.flightHosts.set(host, left);
      else this.flightHosts.delete(host);
      if (accepted) this.rememberHost(host, now);
    }
    const flight = this.flightNames.get(host);
    if (flight) {
      for (const name of names) {
        const left = (flight.get(name) ?? 1) - 1;
        if (left > 0) flight.set(name, left);
        else flight.delete(name);
      }
      if (flight.size === 0) this.flightNames.delete(host);
    }
    if (accepted && names.length > 0) this.remember(host, names, now);
  }
}
