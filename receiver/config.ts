// The receiver's settings, read once at start (see .env.example for each one).

import type { Command } from '../deploy/runtime/command.ts';
import {
  ConfigError,
  type Env,
  readConfig,
  type Settings,
  SHARED_DEFAULTS,
} from '../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../deploy/runtime/log.ts';
import { type NatsSettings, readNatsSettings } from '../deploy/runtime/nats.ts';
import { type RedisSettings, readRedisSettings } from '../deploy/runtime/redis.ts';
import { type ListenSettings, readListenSettings } from '../deploy/runtime/startup.ts';
import { readRetention } from '../proto/retention.ts';
import { type AccessSettings, parseTokenEntries, readTokenFile } from './access.ts';
import type { FoldSettings } from './fold.ts';
import type { GrowthSettings } from './limits.ts';

export interface ReceiverConfig extends ListenSettings {
  /** Where the receiver listens; producers post to exactly this URL. */
  url: URL;
  nats: NatsSettings;
  redis: RedisSettings;
  fold: FoldSettings;
  limits: IngestLimits;
  /** Where the gateway listens (WEB_SERVER_URL), for the API document's servers. */
  gatewayUrl: URL;
  log: LogSettings;
}

/** What the receiver lets in: from whom, how large, how fast, and how much the store may grow. */
export interface IngestLimits extends GrowthSettings {
  /** Who may post (INGEST_TOKENS, INGEST_TOKENS_FILE); anyone when neither is set. */
  access: AccessSettings;
  /** Most samples being stored at once (MAX_IN_FLIGHT); past it, 503 + Retry-After at once. */
  maxInFlight: number;
  /** Largest body of one sample (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Largest body of a batch (MAX_BATCH_BYTES). */
  maxBatchBytes: number;
  /** Most samples in one batch (MAX_BATCH_SAMPLES). */
  maxBatchSamples: number;
  /** Most metric names in one sample (MAX_METRICS_PER_SAMPLE). */
  maxMetricsPerSample: number;
  /** A body must arrive within this time (BODY_TIMEOUT), so slow senders cannot hold connections. */
  bodyTimeoutMs: number;
  /** How far ahead of the receiver's clock a sample's time may be (MAX_CLOCK_SKEW). */
  maxClockSkewMs: number;
}

export const receiverCommand: Command<ReceiverConfig> = {
  name: 'receiver',
  about:
    'takes samples posted over HTTP, records them in JetStream and makes them readable before it answers 200.',
  parse: (s) => ({
    log: readLogSettings(s),
    ...readListenSettings(s, 'RECEIVER_URL', SHARED_DEFAULTS.RECEIVER_URL),
    nats: readNatsSettings(s),
    redis: readRedisSettings(s),
    fold: readRetention(s),
    gatewayUrl: s.url('WEB_SERVER_URL', SHARED_DEFAULTS.WEB_SERVER_URL, ['http:', 'https:']),
    limits: {
      maxBodyBytes: s.size('MAX_BODY_BYTES', '256KiB', { min: 64 }),
      maxBatchBytes: s.size('MAX_BATCH_BYTES', '8MiB', { min: 1024 }),
      maxBatchSamples: s.number('MAX_BATCH_SAMPLES', 1000, { min: 1, integer: true }),
      maxMetricsPerSample: s.number('MAX_METRICS_PER_SAMPLE', 1000, { min: 1, integer: true }),
      bodyTimeoutMs: s.duration('BODY_TIMEOUT', '10s', { min: 100 }),
      maxClockSkewMs: s.duration('MAX_CLOCK_SKEW', '5m', { min: 0 }),
      maxInFlight: s.number('MAX_IN_FLIGHT', 4000, { min: 1, integer: true }),
      maxHosts: s.number('MAX_HOSTS', 10_000, { min: 0, integer: true }),
      maxMetricsPerHost: s.number('MAX_METRICS_PER_HOST', 10_000, { min: 0, integer: true }),
      access: readAccess(s),
    },
  }),
};

export function readReceiverConfig(env?: Env): ReceiverConfig {
  return readConfig(receiverCommand.name, receiverCommand.parse, env);
}

function readAccess(s: Settings): AccessSettings {
  const list = s.optionalString('INGEST_TOKENS');
  const path = s.optionalString('INGEST_TOKENS_FILE');
  let tokens: AccessSettings['tokens'] = [];
  try {
    tokens = list === undefined ? [] : parseTokenEntries(list, 'comma');
  } catch (err) {
    throw new ConfigError('INGEST_TOKENS', (err as Error).message);
  }
  if (list !== undefined && tokens.length === 0)
    throw new ConfigError('INGEST_TOKENS', 'names no token');
  if (path === undefined) return { tokens };
  try {
    return { tokens, file: readTokenFile(path) };
  } catch (err) {
    throw new ConfigError('INGEST_TOKENS_FILE', (err as Error).message);
  }
}
