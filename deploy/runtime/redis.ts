// The Redis side every service shares: one URL is a single server, several are
// the seed nodes of a Redis Cluster. Commands fail fast while Redis is away (the
// caller answers 503 or retries); the connection itself reconnects forever.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError, type Settings, SHARED_DEFAULTS } from './config.ts';
import type { Log } from './log.ts';

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  urls: URL[];
  /**
   * Set when REDIS_URL names Sentinels (`redis-sentinel://host:26379/<primary name>`,
   * comma separated): ioredis asks them for the current primary, and again after a failover.
   */
  sentinel?: { primaryName: string };
  /**
   * Replicas that must hold a fold before it counts as done (REDIS_WAIT_REPLICAS,
   * Redis's WAIT): a primary that dies right after a fold then loses nothing that
   * was acknowledged. 1 on a Redis Cluster (several URLs), 0 on a single server.
   */
  replicaAcks: number;
  /** How long a fold waits for those replicas (REDIS_WAIT_TIMEOUT); past it, it goes on and counts the shortfall. */
  replicaAckTimeoutMs: number;
}

export function readRedisSettings(settings: Settings): RedisSettings {
  const urls = settings.urls('REDIS_URL', SHARED_DEFAULTS.REDIS_URL, [
    'redis:',
    'rediss:',
    'redis-sentinel:',
  ]);
  const sentinels = urls.filter((u) => u.protocol === 'redis-sentinel:');
  let sentinel: RedisSettings['sentinel'];
  if (sentinels.length > 0) {
    const names = new Set(sentinels.map((u) => decodeURIComponent(u.pathname.slice(1))));
    const [primaryName] = names;
    if (sentinels.length !== urls.length || names.size !== 1 || !primaryName) {
      throw new ConfigError(
        'REDIS_URL',
        'Sentinels are named all alike, with the primary they watch: redis-sentinel://host:26379/<name>,redis-sentinel://host2:26379/<name>',
      );
    }
    sentinel = { primaryName };
  }
  return {
    urls,
    sentinel,
    // A Cluster or a Sentinel set has replicas to wait for; a single server has none.
    replicaAcks: settings.number('REDIS_WAIT_REPLICAS', urls.length > 1 || sentinel ? 1 : 0, {
      min: 0,
      max: 5,
      integer: true,
    }),
    replicaAckTimeoutMs: settings.duration('REDIS_WAIT_TIMEOUT', '500ms', {
      min: 10,
      max: 10_000,
    }),
  };
}

function nodeOptions(url: URL, name: string): RedisOptions {
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    connectionName: name,
    // Fail a command at once while disconnected rather than queue it: the caller
    // decides (503 + Retry-After, or wait and retry), and memory stays bounded.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    enableAutoPipelining: true,
    // Reconnect forever, backing off to 2 s between attempts.
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  };
}

/** Connects and resolves once the first connection is ready (it keeps trying until then). */
export async function connectRedis(
  config: Pick<RedisSettings, 'urls' | 'sentinel'>,
  name: string,
  log: Log,
): Promise<RedisClient> {
  const [first, ...rest] = config.urls;
  let client: RedisClient;
  if (config.sentinel) {
    // The password of the URL is the data nodes' (the Sentinels themselves take none here).
    const { host: _h, port: _p, db: _d, ...options } = nodeOptions(first!, name);
    client = new Redis({
      ...options,
      sentinels: config.urls.map((u) => ({
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port ? Number(u.port) : 26379,
      })),
      name: config.sentinel.primaryName,
      lazyConnect: true,
    });
  } else if (rest.length === 0) {
    client = new Redis({ ...nodeOptions(first!, name), lazyConnect: true });
  } else {
    const { retryStrategy: _ignored, host: _h, port: _p, ...options } = nodeOptions(first!, name);
    client = new Cluster(
      config.urls.map((u) => ({ host: u.hostname, port: u.port ? Number(u.port) : 6379 })),
      {
        redisOptions: options,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
        // ioredis follows a MOVED by itself only for a lone command: after a failover,
        // pipelines (a fold with its WAIT, autopipelined reads) kept going to the old
        // node for ever. Reading the slot map every second ends that within a second.
        slotsRefreshInterval: 1_000,
        lazyConnect: true,
      },
    );
  }
  let wasReady = false;
  client.on('ready', () => {
    log.info(wasReady ? 'Redis connection back' : 'connected to Redis', { url: redactUrl(first!) });
    wasReady = true;
  });
  client.on('end', () => log.warn('Redis connection ended'));
  let lastError = '';
  client.on('error', (err: Error) => {
    // ioredis reports every failed reconnect; log each distinct cause once per outage.
    if (err.message !== lastError) log.warn('Redis error', { error: err.message });
    lastError = err.message;
  });
  client.on('ready', () => {
    lastError = '';
  });
  await connectUntilReady(client, log);
  return client;
}

async function connectUntilReady(client: RedisClient, log: Log): Promise<void> {
  const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  // A failed first attempt rejects connect(), but ioredis keeps retrying by its retry strategy.
  client
    .connect()
    .catch((err: Error) => log.warn('Redis not reachable yet; retrying', { error: err.message }));
  await ready;
}

export function isRedisReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}
