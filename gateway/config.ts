// The gateway's settings, read once at start (see .env.example).
import type { Command } from '../deploy/runtime/command.ts';
import { ConfigError, type Env, readConfig, SHARED_DEFAULTS } from '../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../deploy/runtime/log.ts';
import { type NatsSettings, readNatsSettings } from '../deploy/runtime/nats.ts';
import { type RedisSettings, readRedisSettings } from '../deploy/runtime/redis.ts';
import { type ListenSettings, readListenSettings } from '../deploy/runtime/startup.ts';
import { readTokenSet, type TokenSet } from '../deploy/runtime/tokens.ts';
import { readIncidentRetention } from '../proto/incident.ts';
import { type Retention, readRetention } from '../proto/retention.ts';
import type { GrpcSettings } from './grpc.ts';
import type { HistoryLimits } from './history.ts';
import type { Staleness } from './read.ts';

export interface GatewayConfig extends ListenSettings {
  /** Where the gateway listens; `?topics=` is served at its path (WEB_SERVER_URL). */
  url: URL;
  grpc: GrpcSettings;
  nats: NatsSettings;
  redis: RedisSettings;
  staleness: Staleness;
  /** Most names in one `topics=` (MAX_TOPICS). */
  maxTopics: number;
  retention: Retention;
  history: HistoryLimits & {
    /** A stretch longer than this many intervals of the host without a sample is a gap (HISTORY_GAP_FACTOR). */
    gapFactor: number;
  };
  /** Needed (as a bearer token) by the endpoints that change state, when set (API_TOKEN). */
  apiToken?: string;
  /** Needed (or API_TOKEN) by every read, HTTP and gRPC, when set (READ_TOKENS). */
  readTokens?: TokenSet;
  /** How long the incidents stream keeps incidents (INCIDENT_RETENTION). */
  incidentRetentionMs: number;
  /** Where the receivers listen (RECEIVER_URL), for the API document's servers. */
  receiverUrls: URL[];
  log: LogSettings;
}

export const gatewayCommand: Command<GatewayConfig> = {
  name: 'gateway',
  about:
    'serves latest values, history, incidents and the dashboard over HTTP, and Latest, Subscribe and WatchIncidents over gRPC.',
  parse: (s) => {
    const log = readLogSettings(s);
    // Its certificate is served by HTTP and gRPC alike.
    const listen = readListenSettings(s, 'WEB_SERVER_URL', SHARED_DEFAULTS.WEB_SERVER_URL);
    const { url } = listen;
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    const maxTopics = s.number('MAX_TOPICS', 1000, { min: 1, integer: true });
    const grpc = s.hostPort('GRPC_URL', SHARED_DEFAULTS.GRPC_URL);
    const retention = readRetention(s);
    const staleFactor = s.number('STALE_FACTOR', 3, { min: 1 });
    const offlineFactor = s.number('OFFLINE_FACTOR', 10, { min: 1 });
    if (offlineFactor <= staleFactor) {
      throw new ConfigError(
        'OFFLINE_FACTOR',
        `${offlineFactor} must be greater than STALE_FACTOR (${staleFactor}): a host is stale before it is offline`,
      );
    }
    return {
      log,
      ...listen,
      grpc: {
        ...grpc,
        subscriberBuffer: s.number('SUBSCRIBER_BUFFER', 1000, { min: 1, integer: true }),
        maxTopics,
      },
      nats: readNatsSettings(s),
      redis: readRedisSettings(s),
      staleness: {
        factor: staleFactor,
        offlineFactor,
        defaultIntervalSeconds: s.number('INTERVAL', SHARED_DEFAULTS.INTERVAL, {
          min: 0.05,
          max: 86_400,
        }),
      },
      maxTopics,
      retention,
      history: {
        gapFactor: s.number('HISTORY_GAP_FACTOR', 2, { min: 1 }),
        maxRawMs: retention.rawRetentionMs + 3_600_000,
        maxMinuteMs: retention.minuteRetentionMs + 86_400_000,
      },
      apiToken: s.optionalString('API_TOKEN'),
      readTokens: readTokenSet(s, 'READ_TOKENS'),
      incidentRetentionMs: readIncidentRetention(s),
      receiverUrls: s.urls('RECEIVER_URL', SHARED_DEFAULTS.RECEIVER_URL, ['http:', 'https:']),
    };
  },
};

export function readGatewayConfig(env?: Env): GatewayConfig {
  return readConfig(gatewayCommand.name, gatewayCommand.parse, env);
}
