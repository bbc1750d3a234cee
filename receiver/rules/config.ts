// The rules consumer's settings, read once at start (see .env.example); the
// rules file itself is checked here too, so a bad one stops the service at start.
// Later changes of the file are reloaded while it runs (service.ts).
import type { Command } from '../../deploy/runtime/command.ts';
import { ConfigError, type Env, readConfig, SHARED_DEFAULTS } from '../../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../../deploy/runtime/log.ts';
import { type NatsSettings, readNatsSettings } from '../../deploy/runtime/nats.ts';
import { type RedisSettings, readRedisSettings } from '../../deploy/runtime/redis.ts';
import { type ListenSettings, readListenSettings } from '../../deploy/runtime/startup.ts';
import { FileError, readStructuredFile } from '../../deploy/runtime/structured-file.ts';
import { readIncidentRetention } from '../../proto/incident.ts';
import { DEFAULT_RULES_SOURCE, parseRules, type Rule, RuleError } from './rules.ts';

export interface RulesConfig extends ListenSettings {
  /** Where the rules consumer answers /healthz, /readyz and /metrics (RULES_URL). */
  url: URL;
  nats: NatsSettings;
  redis: RedisSettings;
  rules: Rule[];
  /** The rules file (RULES_FILE), watched for changes; none: the default rules, for good. */
  rulesFile?: string;
  /** Where the rules came from, for the log. */
  rulesFrom: string;
  /** How long incidents are kept after they opened (INCIDENT_RETENTION). */
  retentionMs: number;
  /** How often absent rules look for hosts gone silent (ABSENT_CHECK_EVERY), ms. */
  absentCheckMs: number;
  /** A host's interval when its samples declare none (INTERVAL), ms. */
  defaultIntervalMs: number;
  log: LogSettings;
}

export const rulesCommand: Command<RulesConfig> = {
  name: 'rules',
  about:
    "the rules consumer: opens and resolves incidents when a metric's aggregate over a window passes a rule's threshold, and when a host goes silent.",
  parse: (s) => {
    const log = readLogSettings(s);
    const file = s.optionalString('RULES_FILE');
    let rules: Rule[];
    try {
      rules = parseRules(file === undefined ? DEFAULT_RULES_SOURCE : readStructuredFile(file));
    } catch (err) {
      if (err instanceof RuleError || err instanceof FileError)
        throw new ConfigError('RULES_FILE', err.message);
      throw err;
    }
    return {
      log,
      ...readListenSettings(s, 'RULES_URL', 'http://localhost:8092/'),
      nats: readNatsSettings(s),
      redis: readRedisSettings(s),
      rules,
      rulesFile: file,
      rulesFrom: file ?? 'the default rules',
      retentionMs: readIncidentRetention(s),
      absentCheckMs: s.duration('ABSENT_CHECK_EVERY', '1s', { min: 100, max: 60_000 }),
      defaultIntervalMs:
        s.number('INTERVAL', SHARED_DEFAULTS.INTERVAL, { min: 0.05, max: 86_400 }) * 1000,
    };
  },
};

export function readRulesConfig(env?: Env): RulesConfig {
  return readConfig(rulesCommand.name, rulesCommand.parse, env);
}
