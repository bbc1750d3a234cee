// History of one metric of one host: raw points, or one-minute averages computed
// on the server from the stored aggregates (count, sum, min, max), so a 30-day
// query never reads raw samples. Gaps are explicit `null` points.
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { InputError, parseTime } from '../proto/sample.ts';
import {
  MINUTE_MS,
  type MinutePoint,
  type MinuteSeries,
  pairsOf,
  type RawSeries,
  readMinutePoints,
  readMinuteSeries,
  readRawSeries,
} from '../proto/store/codec.ts';
import type { JsonText } from './json-text.ts';
import { unavailable } from './read.ts';

export type Step = 'raw' | '1m';

export interface HistoryRange {
  from: number;
  to: number;
  step: Step;
}

export type { MinutePoint };

export interface HistoryLimits {
  /** Longest range a raw query may ask for. */
  maxRawMs: number;
  /** Longest range a one-minute query may ask for. */
  maxMinuteMs: number;
}

const HOUR_MS = 3_600_000;

/** from/to (ISO-8601 or epoch ms; default the last hour) and step, checked. */
export function parseRange(
  query: Record<string, string | string[] | undefined>,
  limits: HistoryLimits,
  now = Date.now(),
): HistoryRange {
  const single = (name: string): string | undefined => {
    const value = query[name];
    if (Array.isArray(value))
      throw new InputError(`query parameter '${name}' is given more than once`);
    return value === '' ? undefined : value;
  };
  const step = single('step') ?? 'raw';
  if (step !== 'raw' && step !== '1m')
    throw new InputError(`query parameter 'step' must be raw or 1m, not '${step}'`);
  const toText = single('to');
  const fromText = single('from');
  const to = toText === undefined ? now : parseTime(toText, "query parameter 'to'");
  const from =
    fromText === undefined ? to - HOUR_MS : parseTime(fromText, "query parameter 'from'");
  if (from >= to) throw new InputError("query parameter 'from' must be before 'to'");
  const max = step === 'raw' ? limits.maxRawMs : limits.maxMinuteMs;
  if (to - from > max) {
    throw new InputError(
      `a ${step} query may span at most ${Math.round(max / HOUR_MS)} hours; ask for step=1m or a shorter range`,
    );
  }
  return { from, to, step };
}

/**
 * Raw points of one metric of one host in [from, to], oldest first, as columns;
 * with `notBefore` (now less the raw retention), none older than that.
 */
export async function readRawColumns(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
  notBefore = 0,
): Promise<RawSeries> {
  return readRawSeries(redis, host, metric, Math.max(from, notBefore), to).catch(unavailable);
}

/** The same as [time, value] pairs, for reads of a few of them. */
export async function readRaw(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
  notBefore = 0,
): Promise<[number, number][]> {
  return pairsOf(await readRawColumns(redis, host, metric, from, to, notBefore));
}

/** The stored one-minute aggregates of the minutes that have any, oldest first. */
export async function readMinutes(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<MinutePoint[]> {
  return readMinutePoints(redis, host, metric, from, to).catch(unavailable);
}

/** The same as columns, for an answer of tens of thousands of minutes. */
export async function readMinuteColumns(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<MinuteSeries> {
  return readMinuteSeries(redis, host, metric, from, to).catch(unavailable);
}

/** Where an answer's gaps are: a null point wherever the next sample came later than `gapMs` after the previous one, and at either end of [from, to]. */
export interface Gaps {
  intervalMs: number;
  gapMs: number;
  from: number;
  to: number;
}

/**
 * Writes [[time, value], ...] with a [time, null] point where a gap starts;
 * values stored as decimals are printed from their digits.
 */
export function writeRawPoints(out: JsonText, points: RawSeries, gaps: Gaps): void {
  const { intervalMs, gapMs, from, to } = gaps;
  let first = true;
  const row = () => {
    if (first) first = false;
    else out.comma();
    return out.open();
  };
  out.text('[');
  for (let i = 0; i < points.length; i++) {
    const t = points.time[i]!;
    if (i === 0 ? t - from > gapMs : t - points.time[i - 1]! > gapMs)
      row()
        .integer(i === 0 ? from : points.time[i - 1]! + intervalMs)
        .text(',null]');
    row().integer(t).comma();
    const scale = points.scale[i]!;
    if (scale < 0) out.float(points.value[i]!);
    else out.decimal(points.value[i]!, scale);
    out.close();
  }
  const last = points.length > 0 ? points.time[points.length - 1]! : to;
  if (to - last > gapMs)
    row()
      .integer(last + intervalMs)
      .text(',null]');
  out.text(']');
}

/**
 * Writes [[time, avg, count, min, max], ...] for every minute of [from, to],
 * nulls where none arrived; the average is the codec's exact one.
 */
export function writeMinutes(out: JsonText, series: MinuteSeries, from: number, to: number): void {
  out.text('[');
  let next = 0;
  let first = true;
  for (let minute = from - (from % MINUTE_MS); minute <= to; minute += MINUTE_MS) {
    if (!first) out.comma();
    first = false;
    out.open().integer(minute).comma();
    while (next < series.length && series.time[next]! < minute) next++;
    if (next >= series.length || series.time[next] !== minute) {
      out.text('null,0,null,null]');
      continue;
    }
    const scale = series.scale[next]!;
    const avg = series.avg[next]!;
    const min = series.min[next]!;
    const start = out.length;
    if (series.decimalAvg[next]) out.decimal(avg, scale);
    else out.float(avg);
    const end = out.length;
    out.comma().integer(series.count[next]!).comma();
    // A minute of one sample (or of one value) has avg = min = max: print it once.
    if (Object.is(min, avg) && Object.is(series.max[next], avg))
      out.again(start, end).comma().again(start, end);
    else if (scale < 0) out.float(min).comma().float(series.max[next]!);
    else out.decimal(min, scale).comma().decimal(series.max[next]!, scale);
    out.close();
  }
  out.text(']');
}
