// Reads settings once, at start, from `.env` in the working directory and the
// environment (the environment wins). A bad setting is a ConfigError naming the
// setting; `readConfig` turns it into one line on stderr and exit status 2.
import { readFileSync } from 'node:fs';
import * as util from 'node:util';
import { LoadstarError } from '../../proto/errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** The defaults of the settings several services read (docs/CONTRACT.md's table). */
export const SHARED_DEFAULTS = {
  RECEIVER_URL: 'http://localhost:8090/data',
  WEB_SERVER_URL: 'http://localhost:8080/',
  GRPC_URL: '127.0.0.1:50051',
  NATS_URL: 'nats://127.0.0.1:4222',
  REDIS_URL: 'redis://127.0.0.1:6379',
  INTERVAL: 5,
} as const;

/** A bad setting: code `bad_setting`, naming the setting. */
export class ConfigError extends LoadstarError {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super('bad_setting', `${setting}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * Node's own .env parser (util.parseEnv, Node 20.12+). The one-file agent also
 * runs on Debian 12's nodejs 18, which lacks it: there, KEY=value lines with
 * optional quotes and # comments, which is what .env files written for us hold.
 */
function parseEnvText(text: string): Record<string, string> {
  if (typeof util.parseEnv === 'function') return util.parseEnv(text) as Record<string, string>;
  const env: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const setting = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!setting) continue;
    let value = setting[2]!;
    const quoted = /^(["'`])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2]!.replaceAll('\\n', '\n') : quoted[2]!;
    else value = value.replace(/\s+#.*$/, '');
    env[setting[1]!] = value;
  }
  return env;
}

/** The settings a service sees: `.env` (when present) overlaid by the real environment. */
export function loadEnv(file = '.env', environment: Env = process.env): Env {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnvText(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { ...fromFile, ...environment };
}

/** Parses a service's configuration; on a bad setting prints one line and exits with status 2. */
export function readConfig<T>(service: string, parse: (settings: Settings) => T, env?: Env): T {
  try {
    return parse(new Settings(env ?? loadEnv()));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`loadstar ${service}: bad setting ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * The one duration syntax of every setting and file: a number of seconds
 * (`30`, `0.5`, as text or as a YAML/JSON number) or a number with a unit
 * (`250ms`, `30s`, `15m`, `24h`, `7d`; a space before the unit is allowed).
 */
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
/** What parseDuration accepts, in words: every message refusing a duration ends with it. */
export const DURATION_FORMS =
  'seconds (as 30 or 0.5) or a number with a unit ms, s, m, h or d (as 250ms, 30s, 15m, 24h, 7d)';

/**
 * A duration in milliseconds, or undefined when `value` is not one: not of
 * the syntax above, negative, or longer than a timer can count (2^53 ms).
 */
export function parseDuration(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') ms = value * 1000;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (!match) return undefined;
    ms = Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
  } else return undefined;
  if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) return undefined;
  return ms;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

interface NumberLimits {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** Typed accessors over the raw settings; each one validates and names the setting when it fails. */
export class Settings {
  /** Every setting asked for, in order: what --help lists. */
  readonly asked = new Set<string>();

  constructor(readonly env: Env) {}

  private raw(name: string): string | undefined {
    this.asked.add(name);
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string, pattern?: RegExp): string {
    const value = this.raw(name) ?? fallback;
    if (pattern && !pattern.test(value)) {
      throw new ConfigError(name, `'${value}' does not match ${pattern}`);
    }
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  url(name: string, fallback: string, protocols: readonly string[]): URL {
    return this.parseUrl(name, this.raw(name) ?? fallback, protocols);
  }

  /** A comma separated list of URLs, as NATS_URL or several RECEIVER_URLs. */
  urls(name: string, fallback: string, protocols: readonly string[]): URL[] {
    const items = (this.raw(name) ?? fallback)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length === 0) throw new ConfigError(name, 'is empty');
    return items.map((item) => this.parseUrl(name, item, protocols));
  }

  private parseUrl(name: string, text: string, protocols: readonly string[]): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(name, `'${text}' is not a URL`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new ConfigError(
        name,
        `'${text}' must start with ${protocols.map((p) => `${p}//`).join(' or ')}`,
      );
    }
    if (!url.hostname) throw new ConfigError(name, `'${text}' has no host`);
    return url;
  }

  /** host:port, as GRPC_URL. */
  hostPort(name: string, fallback: string): { host: string; port: number } {
    const text = this.raw(name) ?? fallback;
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port > 65535) {
      throw new ConfigError(name, `'${text}' is not host:port (as 127.0.0.1:50051)`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  }

  number(name: string, fallback: number, limits: NumberLimits = {}): number {
    const text = this.raw(name);
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value)) throw new ConfigError(name, `'${text}' is not a number`);
    this.checkLimits(name, value, String(text ?? fallback), limits);
    return value;
  }

  /** A duration (see parseDuration); returned in milliseconds. */
  duration(name: string, fallback: string, limits: NumberLimits = {}): number {
    const text = this.raw(name) ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined)
      throw new ConfigError(name, `'${text}' is not a duration: write ${DURATION_FORMS}`);
    this.checkLimits(name, ms, text, limits);
    return ms;
  }

  /** A size as `100MB`, `64KiB` or plain bytes; returned in bytes. */
  size(name: string, fallback: string, limits: NumberLimits = {}): number {
    const text = this.raw(name) ?? fallback;
    const match = SIZE.exec(text);
    if (!match) throw new ConfigError(name, `'${text}' is not a size (as 512KB, 100MB, 1GiB)`);
    const bytes = Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1));
    this.checkLimits(name, bytes, text, limits);
    return bytes;
  }

  boolean(name: string, fallback: boolean): boolean {
    const text = this.raw(name)?.toLowerCase();
    if (text === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    throw new ConfigError(name, `'${text}' is not true or false`);
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const text = this.raw(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(text)) {
      throw new ConfigError(name, `'${text}' is not one of ${allowed.join(', ')}`);
    }
    return text as T;
  }

  private checkLimits(name: string, value: number, text: string, limits: NumberLimits): void {
    if (limits.integer && !Number.isInteger(value)) {
      throw new ConfigError(name, `'${text}' is not a whole number`);
    }
    if (limits.min !== undefined && value < limits.min) {
      throw new ConfigError(name, `'${text}' is below the minimum ${limits.min}`);
    }
    if (limits.max !== undefined && value > limits.max) {
      throw new ConfigError(name, `'${text}' is above the maximum ${limits.max}`);
    }
  }
}
