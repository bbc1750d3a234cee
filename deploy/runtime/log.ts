// One line per event on stderr, in one of two formats: text for a terminal
// (time, level, [service] message, key=value fields; the supervisor prefixes the
// service name), or json for a log shipper (one object per line: time, level,
// service, msg and the fields). LOG_LEVEL and LOG_FORMAT are settings like any
// other: parsed at start with the rest (a bad one stops the service, exit 2).
import type { Settings } from './config.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogFields = Record<string, unknown>;

export interface LogSettings {
  /** Events below this level are left out (LOG_LEVEL). */
  level: LogLevel;
  /** text or json lines (LOG_FORMAT). */
  format: LogFormat;
}

export function readLogSettings(settings: Settings): LogSettings {
  return {
    level: settings.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    format: settings.oneOf('LOG_FORMAT', 'text', LOG_FORMATS),
  };
}

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(scope: string): Log;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Keys of a json line that fields may not take; a field of that name gets a trailing `_`. */
const RESERVED = new Set(['time', 'level', 'service', 'part', 'msg']);

function renderField(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function jsonValue(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return String(value);
  return value;
}

function textLine(at: LogLevel, scope: string, message: string, fields?: LogFields): string {
  let line = `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} [${scope}] ${message}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) line += ` ${key}=${renderField(value)}`;
  }
  return line;
}

function jsonLine(at: LogLevel, scope: string, message: string, fields?: LogFields): string {
  const slash = scope.indexOf('/');
  const entry: Record<string, unknown> = {
    time: new Date().toISOString(),
    level: at,
    service: slash < 0 ? scope : scope.slice(0, slash),
    ...(slash < 0 ? {} : { part: scope.slice(slash + 1) }),
    msg: message,
  };
  for (const [key, value] of Object.entries(fields ?? {})) {
    entry[RESERVED.has(key) ? `${key}_` : key] = jsonValue(value);
  }
  try {
    return JSON.stringify(entry);
  } catch {
    // A field JSON cannot hold (a cycle): the event is still worth its line.
    for (const [key, value] of Object.entries(entry))
      if (typeof value === 'object' && value !== null) entry[key] = String(value);
    return JSON.stringify(entry);
  }
}

export function createLog(
  scope: string,
  settings: Partial<LogSettings> = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): Log {
  const threshold = RANK[settings.level ?? 'info'];
  const format = settings.format === 'json' ? jsonLine : textLine;
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < threshold) return;
    write(`${format(at, scope, message, fields)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLog(`${scope}/${sub}`, settings, write),
  };
}

/** A log that keeps its lines, for tests that assert on what a part reported. */
export function createMemoryLog(scope = 'test'): Log & { lines: string[] } {
  const lines: string[] = [];
  const log = createLog(scope, { level: 'debug' }, (line) => lines.push(line));
  return Object.assign(log, { lines });
}
