// One readable line per event on stderr: time, level, message, key=value fields.
// LOG_LEVEL=debug|info|warn|error filters; the supervisor prefixes the service name.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(scope: string): Log;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function renderField(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function createLog(
  scope: string,
  level: LogLevel = (process.env.LOG_LEVEL as LogLevel) ?? 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Log {
  const threshold = RANK[level] ?? RANK.info;
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < threshold) return;
    let line = `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} [${scope}] ${message}`;
    if (fields) {
      for (const [key, value] of Object.entries(fields)) line += ` ${key}=${renderField(value)}`;
    }
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLog(`${scope}/${sub}`, level, write),
  };
}

/** A log that keeps its lines, for tests that assert on what a part reported. */
export function createMemoryLog(scope = 'test'): Log & { lines: string[] } {
  const lines: string[] = [];
  const log = createLog(scope, 'debug', (line) => lines.push(line));
  return Object.assign(log, { lines });
}
