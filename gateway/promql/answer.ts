// Prometheus' JSON envelope, written the way Prometheus writes it: values as
// strings in Go's shortest decimal form ("1", "0.5", "NaN", "+Inf", never an
// exponent), times as Unix seconds with milliseconds, errors with an errorType
// and the status code Prometheus gives that type.
import type Koa from 'koa';
import type { QueryResult } from './engine.ts';
import type { Label } from './labels.ts';

export type ErrorType = 'bad_data' | 'execution' | 'unavailable' | 'internal' | 'timeout';

const STATUS: Record<ErrorType, number> = {
  bad_data: 400,
  execution: 422,
  unavailable: 503,
  timeout: 503,
  internal: 500,
};

/** Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back exactly, no exponent. */
export function promFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Object.is(value, -0)) return '-0';
  const text = String(value);
  const e = text.indexOf('e');
  if (e < 0) return text;
  // JavaScript writes the same shortest digits, with an exponent past 1e21 and below 1e-6.
  const sign = text.startsWith('-') ? '-' : '';
  const mantissa = text.slice(sign.length, e);
  const exponent = Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Epoch milliseconds as Unix seconds, as Prometheus writes them: 1435781451.781, 1435781451. */
export function promTime(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  const fraction = abs % 1000;
  const seconds = (abs - fraction) / 1000;
  return fraction === 0
    ? `${sign}${seconds}`
    : `${sign}${seconds}.${String(fraction).padStart(3, '0')}`;
}

export function labelsJson(labels: readonly Label[]): string {
  return `{${labels.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`;
}

const point = (t: number, v: number) => `[${promTime(t)},"${promFloat(v)}"]`;

/** The `data` of a query answer. */
export function queryData(result: QueryResult): string {
  switch (result.resultType) {
    case 'scalar':
      return `{"resultType":"scalar","result":${point(result.time, result.value)}}`;
    case 'string':
      return `{"resultType":"string","result":[${promTime(result.time)},${JSON.stringify(result.value)}]}`;
    case 'vector':
      return `{"resultType":"vector","result":[${result.samples
        .map((s) => `{"metric":${labelsJson(s.labels)},"value":${point(result.time, s.value)}}`)
        .join(',')}]}`;
    case 'matrix':
      return `{"resultType":"matrix","result":[${result.series
        .map(
          (s) =>
            `{"metric":${labelsJson(s.labels)},"values":[${s.times.map((t, i) => point(t, s.values[i]!)).join(',')}]}`,
        )
        .join(',')}]}`;
  }
}

/** A success: `data` is JSON text. */
export function sendSuccess(ctx: Koa.Context, data: string, warnings: string[] = []): void {
  ctx.status = 200;
  ctx.type = 'application/json';
  ctx.body = `{"status":"success","data":${data}${
    warnings.length > 0 ? `,"warnings":${JSON.stringify(warnings)}` : ''
  }}`;
}

export function sendError(ctx: Koa.Context, type: ErrorType, message: string): void {
  ctx.status = STATUS[type];
  ctx.type = 'application/json';
  ctx.body = JSON.stringify({ status: 'error', errorType: type, error: message });
}
