// Splits PromQL text into tokens, each with its offset in the text, so that the
// parser's errors can say where (`1:14: parse error: ...`, as Prometheus does).
// Knows PromQL's whole vocabulary, supported or not: the parser decides what
// loadstar evaluates, and names what it does not.
import { LoadstarError } from '../../proto/errors.ts';

export type TokenKind =
  | 'identifier' // a name: metric, label, function, keyword
  | 'number'
  | 'duration'
  | 'string'
  | 'punct' // ( ) { } [ ] , : @
  | 'operator' // + - * / % ^ == != > < >= <= = =~ !~
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text; for a string, its value with escapes resolved. */
  text: string;
  /** Offset of its first character in the query. */
  pos: number;
  /** For numbers: the value; for durations: milliseconds. */
  value?: number;
}

/** A query PromQL cannot read (`parse error`), or PromQL that loadstar does not evaluate (`unsupported`); `pos` is where. */
export class PromqlError extends LoadstarError {
  constructor(
    readonly reason: string,
    readonly pos: number,
    query: string,
    readonly kind: 'parse error' | 'unsupported' = 'parse error',
  ) {
    super('bad_query', `${where(query, pos)}: ${kind}: ${reason}`);
    this.name = 'PromqlError';
  }
}

/** "line:column" of an offset, both counted from 1, as Prometheus reports positions. */
export function where(query: string, pos: number): string {
  const before = query.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - (before.lastIndexOf('\n') + 1) + 1;
  return `${line}:${column}`;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};
/** Units in the only order Prometheus accepts them: 1h30m, never 30m1h. */
const UNIT_ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];

const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;
const DIGIT = /[0-9]/;
/** What may not follow a number or duration directly (':' may: `[5m:1m]`). */
const WORD_PART = /[A-Za-z0-9_]/;

export function lex(query: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const fail = (reason: string, pos = at): never => {
    throw new PromqlError(reason, pos, query);
  };

  while (at < query.length) {
    const c = query[at]!;
    if (/\s/.test(c)) {
      at++;
      continue;
    }
    if (c === '#') {
      while (at < query.length && query[at] !== '\n') at++;
      continue;
    }
    const start = at;
    if (c === '"' || c === "'" || c === '`') {
      tokens.push({ kind: 'string', text: readString(c), pos: start });
      continue;
    }
    if (DIGIT.test(c) || (c === '.' && DIGIT.test(query[at + 1] ?? ''))) {
      tokens.push(readNumberOrDuration());
      continue;
    }
    if (IDENT_START.test(c)) {
      // A lone ':' is punctuation (a subquery's step); a name may hold ':' (recording rules).
      if (c === ':' && !/[A-Za-z_]/.test(query[at + 1] ?? '')) {
        tokens.push({ kind: 'punct', text: ':', pos: at++ });
        continue;
      }
      while (at < query.length && IDENT_PART.test(query[at]!)) at++;
      const text = query.slice(start, at);
      const lower = text.toLowerCase();
      if (lower === 'inf' || lower === 'nan') {
        tokens.push({
          kind: 'number',
          text,
          pos: start,
          value: lower === 'inf' ? Number.POSITIVE_INFINITY : Number.NaN,
        });
      } else {
        tokens.push({ kind: 'identifier', text, pos: start });
      }
      continue;
    }
    const two = query.slice(at, at + 2);
    if (['==', '!=', '>=', '<=', '=~', '!~'].includes(two)) {
      tokens.push({ kind: 'operator', text: two, pos: start });
      at += 2;
      continue;
    }
    if ('+-*/%^=<>'.includes(c)) {
      tokens.push({ kind: 'operator', text: c, pos: start });
      at++;
      continue;
    }
    if ('(){}[],@'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos: start });
      at++;
      continue;
    }
    fail(`unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'eof', text: '', pos: query.length });
  return tokens;

  function readNumberOrDuration(): Token {
    const start = at;
    if (/^0[xX][0-9a-fA-F]/.test(query.slice(at, at + 3))) {
      at += 2;
      while (at < query.length && /[0-9a-fA-F]/.test(query[at]!)) at++;
      return {
        kind: 'number',
        text: query.slice(start, at),
        pos: start,
        value: Number(query.slice(start, at)),
      };
    }
    const digits = /^[0-9]+/.exec(query.slice(at))?.[0] ?? '';
    const after = query.slice(at + digits.length);
    // A duration: digits and a unit, any number of times (1h30m), and nothing after it that could continue a name.
    if (digits !== '' && /^(ms|[smhdwy])/.test(after)) {
      let total = 0;
      let lastUnit = -1;
      for (;;) {
        const part = /^([0-9]+)(ms|[smhdwy])/.exec(query.slice(at));
        if (!part) break;
        const unit = UNIT_ORDER.indexOf(part[2]!);
        if (unit <= lastUnit) fail(`bad duration: unit ${part[2]} out of order`, start);
        lastUnit = unit;
        total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
        at += part[0].length;
      }
      if (at < query.length && WORD_PART.test(query[at]!))
        fail(`bad duration ${JSON.stringify(query.slice(start, at + 1))}`, start);
      return { kind: 'duration', text: query.slice(start, at), pos: start, value: total };
    }
    const number = /^(?:[0-9]*\.?[0-9]+|[0-9]+\.)(?:[eE][+-]?[0-9]+)?/.exec(query.slice(at));
    if (!number) return fail('bad number', start);
    at += number[0].length;
    if (at < query.length && WORD_PART.test(query[at]!))
      fail(`bad number or duration syntax: ${JSON.stringify(query.slice(start, at + 1))}`, start);
    return { kind: 'number', text: number[0], pos: start, value: Number(number[0]) };
  }

  function readString(quote: string): string {
    const start = at;
    at++;
    let out = '';
    for (;;) {
      if (at >= query.length) fail('unterminated quoted string', start);
      const ch = query[at]!;
      if (ch === quote) {
        at++;
        return out;
      }
      if (quote !== '`' && ch === '\n') fail('unterminated quoted string', start);
      if (quote === '`' || ch !== '\\') {
        out += ch;
        at++;
        continue;
      }
      out += readEscape(quote);
    }
  }

  /** Go's escapes, as PromQL strings take them: \n \t \\ \" \' \xHH \uHHHH \UHHHHHHHH \OOO and the rest. */
  function readEscape(quote: string): string {
    const start = at;
    const e = query[at + 1];
    at += 2;
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (e !== undefined && e in simple) return simple[e]!;
    if (e === quote) return quote;
    const hex = (count: number) => {
      const digits = query.slice(at, at + count);
      if (!new RegExp(`^[0-9a-fA-F]{${count}}$`).test(digits))
        fail('unknown escape sequence in string', start);
      at += count;
      return Number.parseInt(digits, 16);
    };
    if (e === 'x') return String.fromCharCode(hex(2));
    if (e === 'u' || e === 'U') {
      const code = hex(e === 'u' ? 4 : 8);
      if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000))
        fail('escape sequence is an invalid Unicode code point', start);
      return String.fromCodePoint(code);
    }
    if (e !== undefined && /[0-7]/.test(e)) {
      const octal = query.slice(at - 1, at + 2);
      if (!/^[0-7]{3}$/.test(octal) || Number.parseInt(octal, 8) > 255)
        fail('unknown escape sequence in string', start);
      at += 2;
      return String.fromCharCode(Number.parseInt(octal, 8));
    }
    return fail('unknown escape sequence in string', start);
  }
}
