// The NATS side every service shares: how to connect (reconnecting forever, with
// credentials from the URL or a creds file) and the samples stream's settings.
// It never gives up on a server: readiness reports the outage instead.
import { readFileSync } from 'node:fs';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from 'nats';
import { INCIDENTS_STREAM, INCIDENTS_SUBJECTS } from '../../proto/incident.ts';
import { DELIVERIES_STREAM, DELIVERIES_SUBJECTS } from '../../proto/receivers.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../../proto/subjects.ts';
import { type Settings, SHARED_DEFAULTS } from './config.ts';
import type { Log } from './log.ts';

export interface NatsSettings {
  servers: URL[];
  /** Path of a NATS .creds file (NATS_CREDS), for servers that require one. */
  credsFile?: string;
  /** Replicas of the streams (NATS_REPLICAS): 1 on one server, 3 on a cluster. */
  replicas: number;
  /** How long the stream keeps samples (STREAM_MAX_AGE); bounds how far a Redis rebuild reaches. */
  streamMaxAgeMs: number;
  /** Size cap of the stream in bytes (STREAM_MAX_BYTES), -1 for none; the oldest are dropped beyond it. */
  streamMaxBytes: number;
  /**
   * How long JetStream remembers a Nats-Msg-Id (STREAM_DUPLICATE_WINDOW): a retry
   * within it is stored once by JetStream itself; the fold deduplicates beyond it.
   */
  duplicateWindowMs: number;
}

export function readNatsSettings(settings: Settings): NatsSettings {
  return {
    servers: settings.urls('NATS_URL', SHARED_DEFAULTS.NATS_URL, ['nats:', 'tls:']),
    credsFile: settings.optionalString('NATS_CREDS'),
    replicas: settings.number('NATS_REPLICAS', 1, { min: 1, max: 5, integer: true }),
    streamMaxAgeMs: settings.duration('STREAM_MAX_AGE', '24h', { min: 60_000 }),
    streamMaxBytes:
      settings.optionalString('STREAM_MAX_BYTES') === undefined
        ? -1
        : settings.size('STREAM_MAX_BYTES', '-1', { min: 1_000_000 }),
    duplicateWindowMs: settings.duration('STREAM_DUPLICATE_WINDOW', '2m', {
      min: 1_000,
      max: 3_600_000,
    }),
  };
}

/** A live NATS connection and whether it is connected right now. */
export interface NatsLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  isConnected(): boolean;
  close(): Promise<void>;
}

export function natsConnectionOptions(config: NatsSettings, name: string): ConnectionOptions {
  const first = config.servers[0]!;
  const options: ConnectionOptions = {
    name,
    servers: config.servers.map((u) => `${u.protocol === 'tls:' ? 'tls' : 'nats'}://${u.host}`),
    // Never give up: a monitoring pipeline waits out any outage and reports it on /readyz.
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    maxPingOut: 2,
  };
  if (first.username) {
    const user = decodeURIComponent(first.username);
    if (first.password) {
      options.user = user;
      options.pass = decodeURIComponent(first.password);
    } else {
      options.token = user;
    }
  }
  if (first.protocol === 'tls:') options.tls = {};
  if (config.credsFile) options.authenticator = credsAuthenticator(readFileSync(config.credsFile));
  return options;
}

export async function connectNats(config: NatsSettings, name: string, log: Log): Promise<NatsLink> {
  const nc = await connectForever(natsConnectionOptions(config, name), log);
  let connected = true;
  log.info('connected to NATS', { server: nc.getServer() });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        connected = false;
        log.warn('NATS connection lost; reconnecting', { server: String(status.data) });
      } else if (status.type === 'reconnect') {
        connected = true;
        log.info('NATS connection back', { server: String(status.data) });
      } else if (status.type === 'error') {
        log.warn('NATS error', { error: String(status.data) });
      }
    }
  })().catch((err) => log.error('NATS status watch ended', { error: err }));
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager({ timeout: 10_000 });
  return {
    nc,
    js,
    jsm,
    isConnected: () => connected && !nc.isClosed(),
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * The client waits out a server that is away by itself (waitOnFirstConnect), but
 * gives up on one that refuses it (a wrong password, a revoked creds file). That
 * is retried too, slower: the operator may fix the server rather than this service.
 */
async function connectForever(options: ConnectionOptions, log: Log): Promise<NatsConnection> {
  let delayMs = 1_000;
  for (;;) {
    try {
      return await connect(options);
    } catch (err) {
      log.warn('NATS refused the connection; retrying', {
        error: (err as Error).message,
        retryInMs: delayMs,
      });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  }
}

function streamConfig(
  name: string,
  subjects: string,
  maxAgeMs: number,
  config: NatsSettings,
): Partial<StreamConfig> {
  return {
    name,
    subjects: [subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    max_bytes: config.streamMaxBytes,
    num_replicas: config.replicas,
    // JetStream's own dedup of retried publishes (Nats-Msg-Id); the fold dedups beyond it.
    duplicate_window: nanos(config.duplicateWindowMs),
    allow_direct: true,
  };
}

/** Creates a stream, or brings its limits in line with the settings. */
async function ensureStream(
  jsm: JetStreamManager,
  wanted: Partial<StreamConfig>,
  log: Log,
): Promise<void> {
  const name = wanted.name!;
  const existing = await jsm.streams.info(name).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return null;
    throw err;
  });
  if (!existing) {
    try {
      await jsm.streams.add(wanted);
      log.info('created a stream', { stream: name, replicas: wanted.num_replicas });
      return;
    } catch (err) {
      // Another service created it at the same moment: then it exists now, and that is fine.
      if (!(await jsm.streams.info(name).catch(() => null))) throw err;
      return;
    }
  }
  const c = existing.config;
  if (
    c.max_age !== wanted.max_age ||
    c.max_bytes !== wanted.max_bytes ||
    c.num_replicas !== wanted.num_replicas ||
    c.duplicate_window !== wanted.duplicate_window
  ) {
    await jsm.streams.update(name, {
      ...c,
      max_age: wanted.max_age!,
      max_bytes: wanted.max_bytes!,
      num_replicas: wanted.num_replicas!,
      duplicate_window: wanted.duplicate_window!,
    });
    log.info('updated the limits of a stream', { stream: name });
  }
}

/** The samples stream: the pipeline's record of every accepted sample. */
export function ensureSamplesStream(
  jsm: JetStreamManager,
  config: NatsSettings,
  log: Log,
): Promise<void> {
  return ensureStream(
    jsm,
    streamConfig(SAMPLES_STREAM, SAMPLES_SUBJECTS, config.streamMaxAgeMs, config),
    log,
  );
}

/** The incidents stream: every opening and resolution, kept as long as incidents are. */
export function ensureIncidentsStream(
  jsm: JetStreamManager,
  config: NatsSettings,
  keepMs: number,
  log: Log,
): Promise<void> {
  return ensureStream(jsm, streamConfig(INCIDENTS_STREAM, INCIDENTS_SUBJECTS, keepMs, config), log);
}

/**
 * The deliveries stream: what the notifier still has to send, one subject per
 * receiver. A work queue: a delivery leaves the stream once its receiver took
 * it; one waiting longer than `keepMs` (ALERT_GIVE_UP_AFTER) leaves as well.
 * Its duplicate window (10 minutes at most) makes two notifier copies that
 * queue the same reminder or refresh queue it once.
 */
export function ensureDeliveriesStream(
  jsm: JetStreamManager,
  config: NatsSettings,
  keepMs: number,
  log: Log,
): Promise<void> {
  return ensureStream(
    jsm,
    {
      ...streamConfig(DELIVERIES_STREAM, DELIVERIES_SUBJECTS, keepMs, config),
      retention: RetentionPolicy.Workqueue,
      max_bytes: -1,
      duplicate_window: nanos(Math.min(600_000, keepMs)),
    },
    log,
  );
}
