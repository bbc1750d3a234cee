// The sources file (SOURCES_FILE): the remote sources the agent polls besides
// its own machine, read and checked once at start into typed settings. A bad
// entry stops the agent before it starts, naming the source and the field.
import { ConfigError, DURATION_FORMS, type Env, parseDuration } from '../../proto/config.ts';
import type { Log } from '../../proto/log.ts';
import { quoteName } from '../../proto/sample.ts';
import { FileError, readStructuredFile } from '../../proto/structured-file.ts';
import type { RemoteSettings } from './endpoint.ts';
import {
  HTTP_JSON_KEYS,
  type HttpJsonSettings,
  HttpJsonSource,
  readHttpJsonSettings,
} from './http-json.ts';
import {
  PROMETHEUS_KEYS,
  type PrometheusSettings,
  PrometheusSource,
  readPrometheusSettings,
} from './prometheus.ts';
import type { Source } from './source.ts';

/**
 * One type of remote source: the fields its entries may have besides the
 * common ones, how an entry is read into its settings, and the running source.
 */
interface SourceType<S extends RemoteSettings & { type: string }> {
  keys: readonly string[];
  read(entry: Entry, common: RemoteSettings): S;
  create(settings: S, log: Log): Source;
}

function sourceType<S extends RemoteSettings & { type: string }>(
  type: SourceType<S>,
): SourceType<S> {
  return type;
}

/**
 * Every type of remote source, by the name a file's `type:` gives. This is
 * the one place a type is added: the settings' union, the check of `type:`
 * (and its error, which lists these names) and createRemoteSource follow it.
 */
const SOURCE_TYPES = {
  'http-json': sourceType<HttpJsonSettings>({
    keys: HTTP_JSON_KEYS,
    read: readHttpJsonSettings,
    create: (settings, log) => new HttpJsonSource(settings, log),
  }),
  prometheus: sourceType<PrometheusSettings>({
    keys: PROMETHEUS_KEYS,
    read: readPrometheusSettings,
    create: (settings, log) => new PrometheusSource(settings, log),
  }),
};
type SourceTypeName = keyof typeof SOURCE_TYPES;

/** The settings of any registered source type. */
export type RemoteSourceSettings = ReturnType<(typeof SOURCE_TYPES)[SourceTypeName]['read']>;

const COMMON_KEYS = ['name', 'type', 'url', 'interval', 'timeout', 'headers'];
/** Source names show in logs and counters: the metric alphabet, kept short. */
const SOURCE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface SourceDefaults {
  /** The agent's INTERVAL, seconds: a source's interval when it gives none. */
  intervalSeconds: number;
  /** The agent's SOURCE_TIMEOUT, ms: a source's timeout when it gives none. */
  timeoutMs: number;
  /** Settings `${NAME}` in header values refer to (tokens stay out of the file). */
  env: Env;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `a string (${quoteName(value)})`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * One mapping of the file, read field by field: each accessor checks its field
 * and, when it is wrong, throws a ConfigError naming the source and the field.
 */
export class Entry {
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    /** The file and the source, as `/etc/loadstar/sources.yaml: sources[1] 'node-a'`. */
    readonly where: string,
    /** This mapping's place inside the source, as `metrics[0].`. */
    private readonly prefix = '',
  ) {}

  fail(key: string, problem: string): never {
    throw new ConfigError('SOURCES_FILE', `${this.where}: field '${this.prefix}${key}' ${problem}`);
  }

  /** The field's value; YAML's empty value (null) counts as absent. */
  value(key: string): unknown {
    return Object.hasOwn(this.raw, key) && this.raw[key] !== null ? this.raw[key] : undefined;
  }

  has(key: string): boolean {
    return this.value(key) !== undefined;
  }

  /** Refuses keys not in `known`: a misspelt key would otherwise be silently ignored. */
  checkKnown(known: readonly string[]): void {
    for (const key of Object.keys(this.raw)) {
      if (!known.includes(key)) this.fail(key, `is not a known field (known: ${known.join(', ')})`);
    }
  }

  optionalString(key: string, pattern?: RegExp, rule?: string): string | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    // YAML reads `metric: 1` or `mode: 0` as numbers; they are names all the same.
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || text.trim() === '')
      this.fail(key, `is ${kind(value)}, expected a non-empty string`);
    if (pattern && !pattern.test(text))
      this.fail(key, `${quoteName(text)} ${rule ?? `does not match ${pattern}`}`);
    return text;
  }

  string(key: string, pattern?: RegExp, rule?: string): string {
    return this.optionalString(key, pattern, rule) ?? this.fail(key, 'is missing');
  }

  number(key: string, fallback: number, limits: { min?: number; max?: number } = {}): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value))
      this.fail(key, `is ${kind(value)}, expected a number`);
    if (limits.min !== undefined && value < limits.min)
      this.fail(key, `${value} is below the minimum ${limits.min}`);
    if (limits.max !== undefined && value > limits.max)
      this.fail(key, `${value} is above the maximum ${limits.max}`);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(key, `is ${kind(value)}, expected true or false`);
    return value;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const value = this.value(key);
    if (value === undefined)
      return fallback ?? this.fail(key, `is missing (one of ${allowed.join(', ')})`);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
      this.fail(key, `is ${kind(value)}, expected one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** Seconds, given as a duration (parseDuration: `30`, `500ms`, `30s`, `5m`, `1h`). */
  seconds(key: string, fallback: number, limits: { min: number; max: number }): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) this.fail(key, `is ${kind(value)}, expected ${DURATION_FORMS}`);
    // A number is seconds already: dividing its milliseconds back would round 0.07 to 0.07000000000000001.
    const seconds = typeof value === 'number' ? value : ms / 1000;
    if (seconds < limits.min || seconds > limits.max)
      this.fail(key, `${String(value)} is not between ${limits.min} s and ${limits.max} s`);
    return seconds;
  }

  /** A mapping's fields, in the file's order; undefined when absent. */
  mapping(key: string): [string, unknown][] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!isMapping(value)) this.fail(key, `is ${kind(value)}, expected a mapping`);
    return Object.entries(value);
  }

  /** A list of mappings, each as an Entry naming its place (`metrics[2].`). */
  entries(key: string): Entry[] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(key, `is ${kind(value)}, expected a list`);
    return value.map((item: unknown, i) => {
      if (!isMapping(item)) this.fail(`${key}[${i}]`, `is ${kind(item)}, expected a mapping`);
      return new Entry(item, this.where, `${this.prefix}${key}[${i}].`);
    });
  }
}

/** `${NAME}` in a header value, replaced by that setting: a token need not be written in the file. */
function expandSettings(entry: Entry, key: string, text: string, env: Env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined || value === '')
      entry.fail(key, `refers to \${${name}}, which is not set`);
    return value;
  });
}

function readCommon(entry: Entry, name: string, defaults: SourceDefaults): RemoteSettings {
  const text = entry.string('url');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return entry.fail('url', `${quoteName(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    entry.fail('url', `${quoteName(text)} must start with http:// or https://`);
  // fetch refuses URLs with credentials; say so now rather than fail every poll.
  if (url.username || url.password)
    entry.fail('url', 'has a user or password in it: send credentials in headers (Authorization)');
  const headers: Record<string, string> = {};
  for (const [header, value] of entry.mapping('headers') ?? []) {
    const key = `headers.${header}`;
    if (!HEADER_NAME.test(header)) entry.fail(key, 'is not a valid HTTP header name');
    if (typeof value !== 'string' && typeof value !== 'number')
      entry.fail(key, `is ${kind(value)}, expected a string`);
    const expanded = expandSettings(entry, key, String(value), defaults.env);
    if (/[\r\n\0]/.test(expanded)) entry.fail(key, 'has a line break or NUL in its value');
    headers[header] = expanded;
  }
  return {
    name,
    url,
    headers,
    intervalSeconds: entry.seconds('interval', defaults.intervalSeconds, {
      min: 0.05,
      max: 86_400,
    }),
    timeoutMs: Math.round(
      entry.seconds('timeout', defaults.timeoutMs / 1000, { min: 0.01, max: 300 }) * 1000,
    ),
  };
}

/** Reads and checks the sources file; a problem is a ConfigError naming source and field. */
export function readSourcesFile(path: string, defaults: SourceDefaults): RemoteSourceSettings[] {
  let content: unknown;
  try {
    content = readStructuredFile(path);
  } catch (err) {
    if (err instanceof FileError) throw new ConfigError('SOURCES_FILE', err.message);
    throw err;
  }
  // Either the list itself or `sources: [...]`, which leaves room for other keys later.
  const list = Array.isArray(content)
    ? content
    : isMapping(content) && Array.isArray(content.sources)
      ? content.sources
      : null;
  if (list === null) {
    throw new ConfigError(
      'SOURCES_FILE',
      `${path}: is ${kind(content)}, expected a list of sources (or sources: followed by one)`,
    );
  }
  if (isMapping(content)) new Entry(content, path).checkKnown(['sources']);
  const names = new Map<string, number>();
  return list.map((raw: unknown, i): RemoteSourceSettings => {
    const label = isMapping(raw) && typeof raw.name === 'string' ? ` ${quoteName(raw.name)}` : '';
    const where = `${path}: sources[${i}]${label}`;
    if (!isMapping(raw))
      throw new ConfigError('SOURCES_FILE', `${where}: is ${kind(raw)}, expected a mapping`);
    const entry = new Entry(raw, where);
    const name = entry.string('name', SOURCE_NAME, 'is not 1 to 64 characters of [A-Za-z0-9_.:-]');
    const earlier = names.get(name);
    if (earlier !== undefined) entry.fail('name', `${quoteName(name)} is also sources[${earlier}]`);
    names.set(name, i);
    const type = entry.oneOf('type', Object.keys(SOURCE_TYPES) as SourceTypeName[]);
    const { keys, read } = SOURCE_TYPES[type];
    entry.checkKnown([...COMMON_KEYS, ...keys]);
    return read(entry, readCommon(entry, name, defaults));
  });
}

/** The running source for one entry of the file. */
export function createRemoteSource(settings: RemoteSourceSettings, log: Log): Source {
  // The registry pairs each type's settings with its source; TypeScript cannot follow the pair.
  const type = SOURCE_TYPES[settings.type] as SourceType<RemoteSourceSettings>;
  return type.create(settings, log);
}
