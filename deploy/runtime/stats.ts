// Each process counts its own work in a prom-client registry, labelled with its
// service and instance, and publishes a snapshot to Redis every few seconds so
// that the gateway's /metrics shows the whole pipeline in one scrape.
import { hostname } from 'node:os';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';

type Snapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

import { keys } from '../../proto/keys.ts';
import type { Log } from './log.ts';
import type { RedisClient } from './redis.ts';

/** Snapshots older than this belong to a process that stopped; they leave the scrape. */
const SNAPSHOT_TTL_MS = 30_000;

/**
 * prom-client's sums of its own `{type}` gauges, named as counters (`_total`)
 * though they go down: `promtool check metrics` rightly flags them, and
 * `sum(loadstar_nodejs_active_handles)` gives the same figure.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createRegistry(
  service: string,
  instance = `${hostname()}:${process.pid}`,
): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, instance });
  collectDefaultMetrics({ register: registry, prefix: 'loadstar_' });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`loadstar_${name}`);
  return registry;
}

/** Publishes this process's counters every `everyMs`; returns a function that stops it. */
export function publishStats(
  registry: Registry,
  redis: RedisClient,
  field: string,
  log: Log,
  everyMs = 5_000,
): () => Promise<void> {
  const publish = async () => {
    const snapshot = JSON.stringify({ at: Date.now(), metrics: await registry.getMetricsAsJSON() });
    await redis.hset(keys.stats, field, snapshot);
  };
  let failing = false;
  const tick = () =>
    publish().then(
      () => {
        failing = false;
      },
      (err: Error) => {
        if (!failing) log.debug('could not publish counters', { error: err.message });
        failing = true;
      },
    );
  const timer = setInterval(tick, everyMs);
  timer.unref();
  void tick();
  return async () => {
    clearInterval(timer);
    await publish().catch(() => {});
  };
}

/** The Prometheus text of this registry merged with every live process's snapshot. */
export async function scrapePipeline(
  own: Registry,
  redis: RedisClient,
  ownField: string,
): Promise<string> {
  const snapshots: Snapshot[] = [await own.getMetricsAsJSON()];
  const stale: string[] = [];
  try {
    const all = await redis.hgetall(keys.stats);
    for (const [field, text] of Object.entries(all)) {
      if (field === ownField) continue;
      const snapshot = JSON.parse(text) as { at: number; metrics: Snapshot };
      if (Date.now() - snapshot.at > SNAPSHOT_TTL_MS) stale.push(field);
      else snapshots.push(snapshot.metrics);
    }
    if (stale.length > 0) await redis.hdel(keys.stats, ...stale);
  } catch {
    // Redis away: the scrape still shows this process's own counters.
  }
  return AggregatorRegistry.aggregate(snapshots).metrics();
}
