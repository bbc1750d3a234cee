// Reads the Prometheus text exposition format (0.0.4), as node_exporter serves
// it. A line it cannot read is skipped and counted, never fatal: one odd line
// from an exporter must not cost the other series.

export interface Series {
  name: string;
  /** Label name -> value (a null-prototype object: label names are the exporter's). */
  labels: Record<string, string>;
  /** NaN and ±Infinity are legal values in the format. */
  value: number;
  /** The exporter's own time for the value, epoch ms, when the line gives one. */
  timestamp?: number;
}

export interface Exposition {
  series: Series[];
  /** From `# TYPE` lines: family name -> counter, gauge, histogram, summary or untyped. */
  types: Map<string, string>;
  /** Lines that were not blank, not a comment, and not a readable series (or repeated one). */
  skipped: number;
  /** The first few skipped lines, as `line N: why: 'text'`, for the log. */
  problems: string[];
}

const METRIC_NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const WHITESPACE = /[ \t]*/y;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF = /^([+-]?)inf(?:inity)?$/i;
const TIMESTAMP = /^-?\d{1,16}$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const MAX_PROBLEMS = 5;

/** The identity of a series: its name and all its labels, in a fixed order. */
export function seriesKey(series: Pick<Series, 'name' | 'labels'>): string {
  const names = Object.keys(series.labels).sort();
  return `${series.name}{${names.map((n) => `${n}=${JSON.stringify(series.labels[n])}`).join(',')}}`;
}

/** A value as Go's ParseFloat reads it (what exporters write): decimals, exponents, NaN, Inf. */
export function parseSampleValue(text: string): number | null {
  if (FLOAT.test(text)) return Number(text);
  const inf = INF.exec(text);
  if (inf) return inf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^[+-]?nan$/i.test(text)) return Number.NaN;
  return null;
}

/** One series line (without its newline); a string says why it is not one. */
export function parseSeriesLine(line: string): Series | string {
  let at = 0;
  const skipSpace = () => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.test(line);
    at = WHITESPACE.lastIndex;
  };
  skipSpace();
  METRIC_NAME.lastIndex = at;
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) return 'no series name';
  at = METRIC_NAME.lastIndex;
  const nameEnd = at;
  skipSpace();
  // Without labels, space must part name and value: `node_load10.5` is not node_load1 = 0.5.
  if (at === nameEnd && line[at] !== '{' && at < line.length) return 'no space after the name';
  const labels: Record<string, string> = Object.create(null);
  if (line[at] === '{') {
    at++;
    for (;;) {
      skipSpace();
      if (line[at] === '}') {
        at++;
        break;
      }
      LABEL_NAME.lastIndex = at;
      const label = LABEL_NAME.exec(line)?.[0];
      if (!label) return 'expected a label name';
      at = LABEL_NAME.lastIndex;
      skipSpace();
      if (line[at] !== '=') return `expected '=' after label ${label}`;
      at++;
      skipSpace();
      if (line[at] !== '"') return `expected '"' to open the value of label ${label}`;
      at++;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) return `unterminated value of label ${label}`;
        at++;
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = line[at];
        at++;
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else if (escaped === undefined) return `unterminated value of label ${label}`;
        // Any other escape is not in the format; keep it as written rather than drop the line.
        else value += `\\${escaped}`;
      }
      if (label in labels) return `label ${label} appears twice`;
      labels[label] = value;
      skipSpace();
      if (line[at] === ',') {
        at++;
        continue;
      }
      if (line[at] === '}') {
        at++;
        break;
      }
      return `expected ',' or '}' after label ${label}`;
    }
  }
  const rest = line
    .slice(at)
    .trim()
    .split(/[ \t]+/);
  if (rest[0] === '') return 'no value';
  const value = parseSampleValue(rest[0]!);
  if (value === null) return 'the value is not a number';
  if (rest.length > 2) return 'unexpected text after the timestamp';
  if (rest.length === 2) {
    if (!TIMESTAMP.test(rest[1]!)) return 'the timestamp is not whole milliseconds';
    return { name, labels, value, timestamp: Number(rest[1]) };
  }
  return { name, labels, value };
}

export function parseExposition(text: string): Exposition {
  const exposition: Exposition = { series: [], types: new Map(), skipped: 0, problems: [] };
  const seen = new Set<string>();
  const skip = (number: number, why: string, line: string) => {
    exposition.skipped++;
    if (exposition.problems.length < MAX_PROBLEMS) {
      const cut = line.length > 80 ? `${line.slice(0, 80)}…` : line;
      exposition.problems.push(`line ${number}: ${why}: ${JSON.stringify(cut)}`);
    }
  };
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const words = trimmed
        .slice(1)
        .trim()
        .split(/[ \t]+/);
      if (words[0] === 'TYPE') {
        const [, family, type] = words;
        if (words.length !== 3 || !family || !type || !TYPES.has(type))
          skip(i + 1, 'a TYPE line must be "# TYPE <name> <type>"', line);
        else exposition.types.set(family, type);
      } else if (words[0] === 'HELP' && !words[1]) {
        skip(i + 1, 'a HELP line without a name', line);
      }
      // HELP text and any other comment carry nothing we report.
      continue;
    }
    const series = parseSeriesLine(line);
    if (typeof series === 'string') {
      skip(i + 1, series, line);
      continue;
    }
    const key = seriesKey(series);
    // The same series twice in one answer has no single value: the first one stands.
    if (seen.has(key)) {
      skip(i + 1, 'the series appears twice', line);
      continue;
    }
    seen.add(key);
    exposition.series.push(series);
  }
  return exposition;
}
