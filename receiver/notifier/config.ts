// The notifier's settings, read once at start (see .env.example): the
// receivers of ALERT_WEBHOOK_URLS, ALERT_SLACK_URLS and ALERTMANAGER_URLS, and
// the receivers and routes of RULES_FILE, checked here so that a bad one stops
// the service at start. Later changes of the file are reloaded (service.ts).

import type { Command } from '../../deploy/runtime/command.ts';
import {
  ConfigError,
  type Env,
  readConfig,
  type Settings,
  SHARED_DEFAULTS,
} from '../../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../../deploy/runtime/log.ts';
import { type NatsSettings, readNatsSettings } from '../../deploy/runtime/nats.ts';
import { type RedisSettings, readRedisSettings } from '../../deploy/runtime/redis.ts';
import { type ListenSettings, readListenSettings } from '../../deploy/runtime/startup.ts';
import { FileError, readStructuredFile } from '../../deploy/runtime/structured-file.ts';
import { readTrustSettings, type TrustSettings } from '../../deploy/runtime/trust.ts';
import { readIncidentRetention } from '../../proto/incident.ts';
import type { DeliverySettings } from './delivery.ts';
import { parseRouting, type Routing, RoutingError, type SettingsReceivers } from './routing.ts';

export interface NotifierConfig extends ListenSettings {
  /** Where the notifier answers /healthz, /readyz and /metrics (NOTIFIER_URL). */
  url: URL;
  nats: NatsSettings;
  redis: RedisSettings;
  routing: Routing;
  /** The receivers of the settings, kept to rebuild the routing when RULES_FILE changes. */
  settingsReceivers: SettingsReceivers;
  /** RULES_FILE, watched for changes of its receivers and routes. */
  rulesFile?: string;
  /** The settings, for `${NAME}` in the file's receiver headers. */
  env: Env;
  delivery: DeliverySettings;
  /** How long incidents (and the incidents stream) are kept (INCIDENT_RETENTION). */
  retentionMs: number;
  /** A CA to trust besides the system's, for https:// receivers (TLS_CA_FILE). */
  trust?: TrustSettings;
  log: LogSettings;
}

/** A comma separated list of URLs, or none when the setting is empty. */
function optionalUrls(s: Settings, name: string): URL[] {
  return s.optionalString(name) === undefined ? [] : s.urls(name, '', ['http:', 'https:']);
}

export const notifierCommand: Command<NotifierConfig> = {
  name: 'notifier',
  about:
    'the notifier: delivers every incident transition (and reminders) to webhooks, Slack and Alertmanager, at least once and in order per incident.',
  parse: (s) => {
    const remind = s.optionalString('ALERT_REMIND_EVERY');
    const settingsReceivers: SettingsReceivers = {
      webhook: optionalUrls(s, 'ALERT_WEBHOOK_URLS'),
      slack: optionalUrls(s, 'ALERT_SLACK_URLS'),
      alertmanager: optionalUrls(s, 'ALERTMANAGER_URLS'),
      remindEveryMs:
        remind === undefined ? null : s.duration('ALERT_REMIND_EVERY', remind, { min: 1_000 }),
    };
    const file = s.optionalString('RULES_FILE');
    let routing: Routing;
    try {
      routing = parseRouting(
        file === undefined ? {} : readStructuredFile(file),
        settingsReceivers,
        s.env,
      );
    } catch (err) {
      if (err instanceof RoutingError || err instanceof FileError)
        throw new ConfigError('RULES_FILE', err.message);
      throw err;
    }
    const retryMinMs = s.duration('ALERT_RETRY_MIN', '1s', { min: 10, max: 3_600_000 });
    const retryMaxMs = s.duration('ALERT_RETRY_MAX', '5m', { min: 10, max: 86_400_000 });
    if (retryMaxMs < retryMinMs)
      throw new ConfigError('ALERT_RETRY_MAX', `must not be shorter than ALERT_RETRY_MIN`);
    const resendMs = s.duration('ALERTMANAGER_RESEND', '1m', { min: 1_000, max: 3_600_000 });
    const web = s.url('WEB_SERVER_URL', SHARED_DEFAULTS.WEB_SERVER_URL, ['http:', 'https:']);
    return {
      log: readLogSettings(s),
      ...readListenSettings(s, 'NOTIFIER_URL', 'http://localhost:8093/'),
      nats: readNatsSettings(s),
      redis: readRedisSettings(s),
      routing,
      settingsReceivers,
      rulesFile: file,
      env: s.env,
      delivery: {
        timeoutMs: s.duration('ALERT_TIMEOUT', '10s', { min: 100, max: 300_000 }),
        retryMinMs,
        retryMaxMs,
        giveUpMs: s.duration('ALERT_GIVE_UP_AFTER', '24h', { min: 3_600_000 }),
        dashboardUrl: s.url('ALERT_DASHBOARD_URL', web.href, ['http:', 'https:']),
        resendMs,
      },
      retentionMs: readIncidentRetention(s),
      trust: readTrustSettings(s),
    };
  },
};

export function readNotifierConfig(env?: Env): NotifierConfig {
  return readConfig(notifierCommand.name, notifierCommand.parse, env);
}
