// The parameters of Prometheus' HTTP API, read as Prometheus reads them: from
// the query string and, on a POST, from a form body (the form wins), with its
// time and duration syntaxes. Bad input is an InputError naming the parameter.
import type Koa from 'koa';
import { InputError } from '../../proto/sample.ts';

/** Largest form body a query may send (a long Grafana query is a few KiB). */
const MAX_FORM_BYTES = 1 << 20;
const FORM_TIMEOUT_MS = 10_000;

export class Params {
  constructor(private readonly values: URLSearchParams) {}

  /** The first value of a parameter, or '' when absent (Go's FormValue). */
  get(name: string): string {
    return this.values.get(name) ?? '';
  }

  all(name: string): string[] {
    return this.values.getAll(name);
  }
}

/** The request's parameters: the form body's first, then the query string's. */
export async function readParams(ctx: Koa.Context): Promise<Params> {
  const values = new URLSearchParams();
  if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(await readForm(ctx))) values.append(k, v);
  }
  for (const [k, v] of new URLSearchParams(ctx.querystring)) values.append(k, v);
  return new Params(values);
}

async function readForm(ctx: Koa.Context): Promise<string> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > MAX_FORM_BYTES) {
    ctx.set('Connection', 'close');
    throw new InputError(
      `form body of ${declared} bytes is larger than ${MAX_FORM_BYTES} bytes`,
      413,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => done(new InputError(`form body did not arrive within ${FORM_TIMEOUT_MS} ms`, 408)),
      FORM_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES)
        done(new InputError(`form body is larger than ${MAX_FORM_BYTES} bytes`, 413));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (err: Error) =>
      done(new InputError(`form body could not be read: ${err.message}`));
    function done(err?: Error) {
      clearTimeout(timer);
      ctx.req.off('data', onData);
      ctx.req.off('end', onEnd);
      ctx.req.off('error', onError);
      if (err) {
        ctx.set('Connection', 'close');
        reject(err);
      } else resolve();
    }
    ctx.req.on('data', onData);
    ctx.req.on('end', onEnd);
    ctx.req.on('error', onError);
  });
  return Buffer.concat(chunks, size).toString('utf8');
}

/** The ends of time as Go's client libraries spell them (Prometheus' minTime and maxTime). */
const MIN_TIME_TEXT = '-292273086-05-16T16:47:06Z';
const MAX_TIME_TEXT = '292277025-08-18T07:12:54.999999999Z';
/** Far enough for any stored sample, near enough to stay exact in epoch milliseconds. */
export const EARLIEST = -8.64e15;
export const LATEST = 8.64e15;

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/** Unix seconds (with up to millisecond fractions) or RFC 3339, to epoch milliseconds. */
export function parsePromTime(text: string, name: string): number {
  const trimmed = text.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) {
    const seconds = Number(trimmed);
    const whole = Math.trunc(seconds);
    const ms = whole * 1000 + Math.round((seconds - whole) * 1000);
    if (Number.isFinite(ms) && Math.abs(ms) <= LATEST) return ms;
  }
  if (trimmed === MIN_TIME_TEXT) return EARLIEST;
  if (trimmed === MAX_TIME_TEXT) return LATEST;
  if (RFC3339.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InputError(
    `invalid parameter "${name}": cannot parse ${JSON.stringify(text)} to a valid timestamp`,
  );
}

/** A time parameter, or `fallback` when it is absent. */
export function timeParam(params: Params, name: string, fallback: number): number {
  const text = params.get(name);
  return text === '' ? fallback : parsePromTime(text, name);
}

const UNITS: [string, number][] = [
  ['y', 365 * 86_400_000],
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Seconds as a float, or a Prometheus duration (1h30m), to milliseconds. */
export function parsePromDuration(text: string, name: string): number {
  const trimmed = text.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) {
    const ms = Number(trimmed) * 1000;
    if (Number.isFinite(ms)) return Math.trunc(ms);
  }
  const parts = DURATION.exec(trimmed);
  if (trimmed !== '' && parts) {
    return UNITS.reduce((sum, [, size], i) => sum + Number(parts[i + 1] ?? 0) * size, 0);
  }
  throw new InputError(
    `invalid parameter "${name}": cannot parse ${JSON.stringify(text)} to a valid duration`,
  );
}
