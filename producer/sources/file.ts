// The sources file (SOURCES_FILE): the remote sources the agent polls besides
// its own machine, read and checked once at start into typed settings. A bad
// entry stops the agent before it starts, naming the source and the field.
import { ConfigError, type Env } from '../../deploy/runtime/config.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import {
  describeValue,
  Entry,
  FileError,
  isMapping,
  readStructuredFile,
} from '../../deploy/runtime/structured-file.ts';
import { quoteName } from '../../proto/sample.ts';
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

/** The reader of one mapping of the file, as the source types' readers use it. */
export { Entry };

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
      entry.fail(key, `is ${describeValue(value)}, expected a string`);
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
  try {
    return readSources(path, defaults);
  } catch (err) {
    if (err instanceof FileError) throw new ConfigError('SOURCES_FILE', err.message);
    throw err;
  }
}

/**
 * The sources of the file; a problem is a FileError naming the file, the source
 * and the field (its line is left out: these messages begin with the file).
 */
function readSources(path: string, defaults: SourceDefaults): RemoteSourceSettings[] {
  const content = readStructuredFile(path);
  // Either the list itself or `sources: [...]`, which leaves room for other keys later.
  const list = Array.isArray(content)
    ? content
    : isMapping(content) && Array.isArray(content.sources)
      ? content.sources
      : null;
  if (list === null) {
    throw new FileError(
      `${path}: is ${describeValue(content)}, expected a list of sources (or sources: followed by one)`,
      { file: path },
    );
  }
  if (isMapping(content)) new Entry(content, path, { showLine: false }).checkKnown(['sources']);
  const names = new Map<string, number>();
  return list.map((raw: unknown, i): RemoteSourceSettings => {
    const label = isMapping(raw) && typeof raw.name === 'string' ? ` ${quoteName(raw.name)}` : '';
    const where = `${path}: sources[${i}]${label}`;
    if (!isMapping(raw))
      throw new FileError(`${where}: is ${describeValue(raw)}, expected a mapping`, { file: path });
    const entry = new Entry(raw, where, { showLine: false });
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
