// The Redis side every service shares: one URL is a single server, several are
// the seed nodes of a Redis Cluster. Commands fail fast while Redis is away (the
// caller answers 503 or retries); the connection itself reconnects forever.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { type Settings, SHARED_DEFAULTS } from './config.ts';
import type { Log } from './log.ts';

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  urls: URL[];
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
  const urls = settings.urls('REDIS_URL', SHARED_DEFAULTS.REDIS_URL, ['redis:', 'rediss:']);
  return {
    urls,
    replicaAcks: settings.number('REDIS_WAIT_REPLICAS', urls.length > 1 ? 1 : 0, {
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
  config: Pick<RedisSettings, 'urls'>,
  name: string,
  log: Log,
): Promise<RedisClient> {
  const [first, ...rest] = config.urls;
  let client: RedisClient;
  if (rest.length === 0) {
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
