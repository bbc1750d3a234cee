// InfluxDB line protocol (what Telegraf's influxdb and influxdb_v2 outputs send):
// `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, one
// point a line, with its escapes, field types and timestamp precisions. A line
// that does not parse is reported by number; the others still count.

export type FieldValue =
  | { type: 'float' | 'integer' | 'unsigned'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'string'; value: string };

export interface LinePoint {
  /** 1-based line number in the body, for messages. */
  line: number;
  measurement: string;
  tags: [string, string][];
  fields: [string, FieldValue][];
  /** Epoch ms, or undefined when the line has no timestamp (the receiver's clock then). */
  time?: number;
}

export interface LineError {
  line: number;
  error: string;
}

/** Nanoseconds per unit of each precision InfluxDB's write APIs take. */
export const PRECISIONS: Readonly<Record<string, bigint>> = {
  n: 1n,
  ns: 1n,
  u: 1_000n,
  us: 1_000n,
  µ: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

class LineSyntaxError extends Error {}

const BOOLEANS: Record<string, boolean> = {
  t: true,
  T: true,
  true: true,
  True: true,
  TRUE: true,
  f: false,
  F: false,
  false: false,
  False: false,
  FALSE: false,
};

/** Parses a body; `precision` is a key of PRECISIONS. Lines are cut at '\n' outside string field values. */
export function parseLines(
  body: string,
  precision: string,
): { points: LinePoint[]; errors: LineError[] } {
  const nsPerUnit = PRECISIONS[precision];
  if (nsPerUnit === undefined) throw new Error(`unknown precision ${precision}`);
  const points: LinePoint[] = [];
  const errors: LineError[] = [];
  let at = 0;
  let line = 1;
  while (at <= body.length) {
    const start = at;
    const startLine = line;
    const end = lineEnd(body, at);
    // Lines counted as they are read: a string value may hold newlines.
    for (let i = start; i < end; i++) if (body[i] === '\n') line++;
    let text = body.slice(start, end);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    at = end + 1;
    line++;
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      points.push(parseLine(trimmed, startLine, nsPerUnit));
    } catch (err) {
      if (!(err instanceof LineSyntaxError)) throw err;
      errors.push({ line: startLine, error: `line ${startLine}: ${err.message}` });
    }
  }
  return { points, errors };
}

/** The end of the line starting at `at`: the next newline outside a quoted field value. */
function lineEnd(body: string, at: number): number {
  let quoted = false;
  let spaces = 0;
  for (let i = at; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && quoted) {
      i++;
      continue;
    }
    if (c === '\n' && !quoted) return i;
    // Quotes only open string values in the field set (after the first unescaped space).
    if (c === ' ' && body[i - 1] !== '\\' && !quoted) spaces++;
    if (c === '"' && spaces >= 1 && body[i - 1] !== '\\') quoted = !quoted;
  }
  return body.length;
}

function parseLine(text: string, line: number, nsPerUnit: bigint): LinePoint {
  let at = 0;
  /** Reads up to an unescaped stop character; `\` escapes the given characters (and itself). */
  const readUntil = (stops: string, escapable: string): string => {
    let out = '';
    while (at < text.length) {
      const c = text[at]!;
      if (c === '\\' && at + 1 < text.length && escapable.includes(text[at + 1]!)) {
        out += text[at + 1];
        at += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      at++;
    }
    return out;
  };

  const measurement = readUntil(', ', ', \\');
  if (measurement === '') throw new LineSyntaxError('no measurement');
  const tags: [string, string][] = [];
  while (text[at] === ',') {
    at++;
    const key = readUntil('=, ', ',= \\');
    if (text[at] !== '=') throw new LineSyntaxError(`tag ${JSON.stringify(key)} has no value`);
    at++;
    const value = readUntil(', ', ',= \\');
    if (key === '' || value === '') throw new LineSyntaxError('empty tag key or value');
    if (tags.some(([k]) => k === key))
      throw new LineSyntaxError(`tag ${JSON.stringify(key)} appears twice`);
    tags.push([key, value]);
  }
  if (text[at] !== ' ') throw new LineSyntaxError('expected a space before the fields');
  while (text[at] === ' ') at++;

  const fields: [string, FieldValue][] = [];
  for (;;) {
    const key = readUntil('=, ', ',= \\');
    if (key === '') throw new LineSyntaxError('empty field key');
    if (text[at] !== '=') throw new LineSyntaxError(`field ${JSON.stringify(key)} has no value`);
    at++;
    const value = readFieldValue(key);
    const same = fields.findIndex(([k]) => k === key);
    // The last of two equal keys wins, as in InfluxDB.
    if (same >= 0) fields.splice(same, 1);
    fields.push([key, value]);
    if (text[at] === ',') {
      at++;
      continue;
    }
    break;
  }
  let time: number | undefined;
  if (at < text.length) {
    if (text[at] !== ' ')
      throw new LineSyntaxError(`unexpected ${JSON.stringify(text[at])} after the fields`);
    while (text[at] === ' ') at++;
    const stamp = text.slice(at).trimEnd();
    if (stamp !== '') {
      if (!/^-?\d{1,19}$/.test(stamp))
        throw new LineSyntaxError(
          `timestamp ${JSON.stringify(stamp.slice(0, 30))} is not an integer`,
        );
      const ns = BigInt(stamp) * nsPerUnit;
      if (ns > 9_223_372_036_854_775_807n || ns < -9_223_372_036_854_775_808n)
        throw new LineSyntaxError(`timestamp ${stamp} is out of range`);
      // Floor to whole milliseconds: loadstar keeps sample times in epoch ms.
      const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
      time = Number(ms);
    }
  }
  return { line, measurement, tags, fields, time };

  function readFieldValue(key: string): FieldValue {
    if (text[at] === '"') {
      at++;
      let out = '';
      while (at < text.length && text[at] !== '"') {
        if (text[at] === '\\' && (text[at + 1] === '"' || text[at + 1] === '\\')) at++;
        out += text[at];
        at++;
      }
      if (at >= text.length)
        throw new LineSyntaxError(`field ${JSON.stringify(key)}: unterminated string`);
      at++;
      return { type: 'string', value: out };
    }
    const start = at;
    while (at < text.length && text[at] !== ',' && text[at] !== ' ') at++;
    const raw = text.slice(start, at);
    if (raw in BOOLEANS) return { type: 'boolean', value: BOOLEANS[raw]! };
    const integer = /^(-?\d+)([iu])$/.exec(raw);
    if (integer) {
      if (integer[2] === 'u' && integer[1]!.startsWith('-'))
        throw new LineSyntaxError(`field ${JSON.stringify(key)}: unsigned ${raw} is negative`);
      const big = BigInt(integer[1]!);
      const limit = integer[2] === 'u' ? 18_446_744_073_709_551_615n : 9_223_372_036_854_775_807n;
      if (big > limit || big < -9_223_372_036_854_775_808n)
        throw new LineSyntaxError(`field ${JSON.stringify(key)}: ${raw} is out of range`);
      return { type: integer[2] === 'u' ? 'unsigned' : 'integer', value: Number(big) };
    }
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
      const value = Number(raw);
      if (!Number.isFinite(value))
        throw new LineSyntaxError(`field ${JSON.stringify(key)}: ${raw} is not finite`);
      return { type: 'float', value };
    }
    throw new LineSyntaxError(
      `field ${JSON.stringify(key)}: ${JSON.stringify(raw.slice(0, 40))} is not a number, boolean or string`,
    );
  }
}
