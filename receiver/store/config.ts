// The storage consumer's settings, read once at start (see .env.example).
import type { Command } from '../../deploy/runtime/command.ts';
import { type Env, readConfig, type Settings } from '../../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../../deploy/runtime/log.ts';
import { type NatsSettings, readNatsSettings } from '../../deploy/runtime/nats.ts';
import { type RedisSettings, readRedisSettings } from '../../deploy/runtime/redis.ts';
import { type ListenSettings, readListenSettings } from '../../deploy/runtime/startup.ts';
import { readRetention } from '../../proto/retention.ts';
import type { FoldSettings } from '../fold.ts';
import type { StoreConsumerSettings } from './consumer.ts';

export interface StoreConfig extends ListenSettings {
  /** Where the store answers /healthz, /readyz and /metrics (STORE_URL). */
  url: URL;
  /** Set when the URL came from the deprecated CONSUMER_URL, so that the store warns at start. */
  deprecatedUrlSetting?: typeof DEPRECATED_URL_SETTING;
  nats: NatsSettings;
  redis: RedisSettings;
  fold: FoldSettings;
  consumer: StoreConsumerSettings;
  /** How often the folded position is recorded and Redis checked against it (STORE_CHECKPOINT). */
  checkpointEveryMs: number;
  log: LogSettings;
}

/**
 * STORE_URL's name from when the service was called `consumer`: operators' env
 * files still set it, so it is read when STORE_URL is not, and the store warns.
 */
export const DEPRECATED_URL_SETTING = 'CONSUMER_URL';

/** Which setting names the store's URL: STORE_URL, unless only the deprecated one is set. */
function urlSetting(s: Settings): 'STORE_URL' | typeof DEPRECATED_URL_SETTING {
  const set = (name: string) => (s.env[name] ?? '').trim() !== '';
  return !set('STORE_URL') && set(DEPRECATED_URL_SETTING) ? DEPRECATED_URL_SETTING : 'STORE_URL';
}

export const storeCommand: Command<StoreConfig> = {
  name: 'store',
  about:
    'the storage consumer: folds every sample of the JetStream stream into Redis, resuming where it stopped.',
  parse: (s) => ({
    log: readLogSettings(s),
    ...readListenSettings(s, urlSetting(s), 'http://localhost:8091/'),
    ...(urlSetting(s) === DEPRECATED_URL_SETTING && {
      deprecatedUrlSetting: DEPRECATED_URL_SETTING,
    }),
    nats: readNatsSettings(s),
    redis: readRedisSettings(s),
    fold: readRetention(s),
    consumer: {
      inFlight: s.number('STORE_IN_FLIGHT', 1024, { min: 1, max: 10_000, integer: true }),
      settleMs: s.duration('STORE_SETTLE', '1s', { min: 0, max: 10_000 }),
      pullExpiresMs: s.duration('STORE_PULL_EXPIRES', '5s', { min: 1_000, max: 60_000 }),
      ackWaitMs: s.duration('STORE_ACK_WAIT', '30s', { min: 1_000 }),
    },
    checkpointEveryMs: s.duration('STORE_CHECKPOINT', '2s', { min: 100, max: 60_000 }),
  }),
};

export function readStoreConfig(env?: Env): StoreConfig {
  return readConfig(storeCommand.name, storeCommand.parse, env);
}
