// The Sample: what a producer measured on one host at one time. Everything that
// crosses a service boundary is checked here, once, into this type; the core
// trusts it. Rejections say what was wrong and where.
import { randomBytes } from 'node:crypto';
import { codeOfStatus, LoadstarError } from './errors.ts';
import { renderFloat } from './float.ts';

/** Metric names are free text within this pattern (docs/CONTRACT.md). */
export const METRIC_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Host names: the same alphabet, up to a DNS name's length; never `{`, `}`, `|` or spaces. */
export const HOST_NAME = /^[A-Za-z0-9_.:-]{1,253}$/;
/** A producer's own id for a sample; with the host it is the sample's identity. */
export const SAMPLE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Names that would shadow JavaScript object internals in any client that reads them into a plain object. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

export type Metrics = Record<string, number>;

export interface Sample {
  host: string;
  /** Producer-chosen id; host + id is the sample's identity for deduplication. */
  id: string;
  /** The sample's own time, epoch milliseconds. */
  time: number;
  /** Seconds between two samples of this host, as the producer declares it; 0 when unknown. */
  interval: number;
  metrics: Metrics;
}

/**
 * Sample ids: a random prefix per process and a counter, so ids never repeat
 * and making one costs no system call.
 */
export class SampleIds {
  private readonly prefix = randomBytes(6).toString('base64url');
  private counter = 0;

  next(): string {
    this.counter++;
    return `${this.prefix}-${this.counter.toString(36)}`;
  }
}

/** A rejected input, with the HTTP status it deserves; its code follows the status (codeOfStatus). */
export class InputError extends LoadstarError {
  constructor(
    message: string,
    readonly status = 400,
    /** The label of the rejection counter (`too_large`, `content_type`…): finer than the code. */
    readonly reason = 'invalid',
  ) {
    super(codeOfStatus(status), message);
    this.name = 'InputError';
  }
}

/** A name shown inside an error message: quoted, cut, with control characters escaped. */
export function quoteName(name: string): string {
  const cut = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  return `'${JSON.stringify(cut).slice(1, -1)}'`;
}

export function checkMetricName(name: string, what = 'metric name'): string {
  if (RESERVED_NAMES.has(name)) throw new InputError(`${what} ${quoteName(name)} is reserved`);
  if (name.length > 128)
    throw new InputError(`${what} ${quoteName(name)} is longer than 128 characters`);
  if (!METRIC_NAME.test(name)) {
    throw new InputError(
      name.length === 0
        ? `${what} is empty`
        : `${what} ${quoteName(name)} has characters outside [A-Za-z0-9_.:-]`,
    );
  }
  return name;
}

export function checkHost(host: string, where = 'host'): string {
  if (!HOST_NAME.test(host)) {
    throw new InputError(
      `${where} ${quoteName(host)} is not a host name: 1 to 253 characters of [A-Za-z0-9_.:-]`,
    );
  }
  return host;
}

export function checkSampleId(id: string, where = 'sample id'): string {
  if (!SAMPLE_ID.test(id)) {
    throw new InputError(`${where} ${quoteName(id)} is not 1 to 64 characters of [A-Za-z0-9_.:-]`);
  }
  return id;
}

/** A time given as epoch milliseconds or ISO-8601; returned as epoch milliseconds. */
export function parseTime(text: string, where: string): number {
  const trimmed = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed);
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) {
    throw new InputError(
      `${where} ${quoteName(text)} is not epoch milliseconds or an ISO-8601 time`,
    );
  }
  return Math.floor(ms);
}

export function parseInterval(text: string, where: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(seconds > 0) || seconds > 86_400) {
    throw new InputError(
      `${where} ${quoteName(text)} is not a number of seconds between 0 and 86400`,
    );
  }
  return seconds;
}

function checkValue(name: string, value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new InputError(`metric ${quoteName(name)} is not a finite number`);
    return value;
  }
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'object'
          ? 'a nested object'
          : typeof value === 'string'
            ? `a string (${quoteName(value)})`
            : `a ${typeof value}`;
  throw new InputError(`metric ${quoteName(name)} is ${kind}: values must be numbers`);
}

/** Checks an already-decoded metrics object (batch bodies, NATS messages). */
export function checkMetrics(value: unknown, maxNames: number, where = 'body'): Metrics {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${where} must be a JSON object of metric names to numbers`);
  }
  const names = Object.keys(value);
  checkNameCount(names.length, maxNames);
  const metrics: Metrics = Object.create(null);
  for (const name of names) {
    checkMetricName(name);
    metrics[name] = checkValue(name, (value as Record<string, unknown>)[name]);
  }
  return metrics;
}

function checkNameCount(count: number, maxNames: number): void {
  if (count === 0)
    throw new InputError('sample has no metrics: expected at least one name -> number');
  if (count > maxNames) {
    throw new InputError(
      `sample has more than ${maxNames} metrics, the limit (MAX_METRICS_PER_SAMPLE)`,
      413,
      'too_many_metrics',
    );
  }
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * Parses a POST body: exactly one flat JSON object of metric name -> number.
 * Stricter than JSON.parse on purpose: a duplicate name is an error (JSON.parse
 * would keep the last silently), and every error names the key and byte offset.
 */
export function parseMetricsBody(text: string, maxNames: number): Metrics {
  let at = 0;
  const skip = () => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.test(text);
    at = WHITESPACE.lastIndex;
  };
  const fail = (message: string): never => {
    throw new InputError(`${message} (at byte ${at})`);
  };
  skip();
  if (at === text.length)
    throw new InputError('body is empty: expected a JSON object of metric names to numbers');
  const open = text[at];
  if (open !== '{') {
    const kind =
      open === '['
        ? 'an array'
        : open === '"'
          ? 'a string'
          : /[-\d]/.test(open!)
            ? 'a number'
            : /[tfn]/.test(open!)
              ? 'a literal'
              : 'not JSON';
    throw new InputError(`body is ${kind}: expected a JSON object of metric names to numbers`);
  }
  at++;
  const metrics: Metrics = Object.create(null);
  let count = 0;
  skip();
  if (text[at] === '}') {
    at++;
  } else {
    for (;;) {
      skip();
      if (text[at] !== '"') fail('expected a quoted metric name');
      const name = readString();
      skip();
      if (text[at] !== ':') fail(`expected ':' after metric ${quoteName(name)}`);
      at++;
      skip();
      const value = readValue(name);
      if (count >= maxNames) checkNameCount(count + 1, maxNames);
      checkMetricName(name);
      if (name in metrics) throw new InputError(`metric ${quoteName(name)} appears twice`);
      metrics[name] = value;
      count++;
      skip();
      if (text[at] === ',') {
        at++;
        continue;
      }
      if (text[at] === '}') {
        at++;
        break;
      }
      fail(`expected ',' or '}' after metric ${quoteName(name)}`);
    }
  }
  skip();
  if (at !== text.length) fail('unexpected text after the JSON object');
  checkNameCount(count, maxNames);
  return metrics;

  function readString(): string {
    const start = at;
    at++;
    for (;;) {
      const c = text.charCodeAt(at);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) at++;
      else if (c < 0x20) fail('control character in a string');
      at++;
    }
    at++;
    try {
      return JSON.parse(text.slice(start, at)) as string;
    } catch {
      at = start;
      return fail('invalid escape in a string');
    }
  }

  function readValue(name: string): number {
    const c = text[at];
    if (c === '{')
      throw new InputError(`metric ${quoteName(name)} is a nested object: values must be numbers`);
    if (c === '[')
      throw new InputError(`metric ${quoteName(name)} is an array: values must be numbers`);
    if (c === '"') {
      const value = readString();
      throw new InputError(
        `metric ${quoteName(name)} is a string (${quoteName(value)}): values must be numbers`,
      );
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, at)) {
        throw new InputError(`metric ${quoteName(name)} is ${literal}: values must be numbers`);
      }
    }
    JSON_NUMBER.lastIndex = at;
    const match = JSON_NUMBER.exec(text);
    if (!match) {
      const word = /^[A-Za-z+.-][\w.+-]*/.exec(text.slice(at, at + 32))?.[0];
      return fail(
        word
          ? `metric ${quoteName(name)}: ${quoteName(word)} is not a JSON number`
          : `metric ${quoteName(name)}: expected a number`,
      );
    }
    at = JSON_NUMBER.lastIndex;
    const value = Number(match[0]);
    if (!Number.isFinite(value)) {
      throw new InputError(
        `metric ${quoteName(name)} is not a finite number (${match[0].slice(0, 40)})`,
      );
    }
    return value;
  }
}

/** The sample as it travels on NATS: compact JSON, values written as floats. */
export function encodeSample(sample: Sample): string {
  let metrics = '{';
  let first = true;
  for (const name in sample.metrics) {
    metrics += `${first ? '' : ','}${JSON.stringify(name)}:${renderFloat(sample.metrics[name]!)}`;
    first = false;
  }
  return (
    `{"host":${JSON.stringify(sample.host)},"id":${JSON.stringify(sample.id)},` +
    `"time":${sample.time},"interval":${sample.interval},"metrics":${metrics}}}`
  );
}

/** Reads a sample back from NATS; a message that is not one is an InputError. */
export function decodeSample(text: string, maxNames = 100_000): Sample {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError('message is not JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError('message is not a JSON object');
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.host !== 'string') throw new InputError('message has no host');
  if (typeof r.id !== 'string') throw new InputError('message has no id');
  if (typeof r.time !== 'number' || !Number.isInteger(r.time) || r.time < 0) {
    throw new InputError('message has no integral time');
  }
  const interval = r.interval ?? 0;
  if (typeof interval !== 'number' || !(interval >= 0))
    throw new InputError('message has a bad interval');
  return {
    host: checkHost(r.host),
    id: checkSampleId(r.id),
    time: r.time,
    interval,
    metrics: checkMetrics(r.metrics, maxNames, 'metrics'),
  };
}
