// History of one metric of one host: raw points, or one-minute averages computed
// on the server from the stored aggregates (count, sum, min, max), so a 30-day
// query never reads raw samples. Gaps are explicit `null` points.
import { renderFloat } from '../proto/float.ts';
import { dayOf, keys, MINUTE_MS } from '../proto/keys.ts';
import type { RedisClient } from '../proto/redis.ts';
import { InputError, parseTime } from '../proto/sample.ts';
import { unavailable } from './read.ts';

export type Step = 'raw' | '1m';

export interface HistoryRange {
  from: number;
  to: number;
  step: Step;
}

export interface MinutePoint {
  time: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** [time, value], value null where a gap starts. */
export type RawPoint = [number, number | null];

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

export async function readRaw(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<[number, number][]> {
  const members = await redis.zrangebyscore(keys.raw(host, metric), from, to).catch(unavailable);
  return members.map((member) => {
    const colon = member.indexOf(':');
    return [Number(member.slice(0, colon)), Number(member.slice(colon + 1))];
  });
}

/** The stored one-minute aggregates of the minutes that have any, oldest first. */
export async function readMinutes(
  redis: RedisClient,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<MinutePoint[]> {
  const first = from - (from % MINUTE_MS);
  const asks: { day: number; minutes: number[] }[] = [];
  for (let minute = first; minute <= to; minute += MINUTE_MS) {
    const day = dayOf(minute);
    if (asks.at(-1)?.day !== day) asks.push({ day, minutes: [] });
    asks.at(-1)!.minutes.push(minute);
  }
  const answers = await Promise.all(
    asks.map(({ day, minutes }) =>
      redis.hmget(keys.minutes(host, day), ...minutes.map((m) => `${metric}|${m}`)),
    ),
  ).catch(unavailable);
  const points: MinutePoint[] = [];
  asks.forEach(({ minutes }, i) => {
    answers[i]!.forEach((text, j) => {
      if (text === null) return;
      const [count, sum, min, max] = text.split('|');
      points.push({
        time: minutes[j]!,
        count: Number(count),
        sum: Number(sum),
        min: Number(min),
        max: Number(max),
      });
    });
  });
  return points;
}

/**
 * Raw points with a null point wherever the next sample came later than
 * `gapMs` after the previous one (and at either end of the range).
 */
export function markGaps(
  points: [number, number][],
  intervalMs: number,
  gapMs: number,
  from: number,
  to: number,
): RawPoint[] {
  if (points.length === 0) return [];
  const out: RawPoint[] = [];
  if (points[0]![0] - from > gapMs) out.push([from, null]);
  points.forEach((point, i) => {
    if (i > 0 && point[0] - points[i - 1]![0] > gapMs)
      out.push([points[i - 1]![0] + intervalMs, null]);
    out.push(point);
  });
  const last = points.at(-1)![0];
  if (to - last > gapMs) out.push([last + intervalMs, null]);
  return out;
}

/** Every minute of the range, with its average, count, min and max, or nulls where none arrived. */
export function fillMinutes(
  points: MinutePoint[],
  from: number,
  to: number,
): (MinutePoint | { time: number; count: 0 })[] {
  const byTime = new Map(points.map((p) => [p.time, p]));
  const out: (MinutePoint | { time: number; count: 0 })[] = [];
  for (let minute = from - (from % MINUTE_MS); minute <= to; minute += MINUTE_MS) {
    out.push(byTime.get(minute) ?? { time: minute, count: 0 });
  }
  return out;
}

const float = (value: number | null) => (value === null ? 'null' : renderFloat(value));

export function renderRawPoints(points: RawPoint[]): string {
  return `[${points.map(([t, v]) => `[${t},${float(v)}]`).join(',')}]`;
}

/** [time, avg, count, min, max]; the average is sum / count, computed here, as a float. */
export function renderMinutePoints(points: ReturnType<typeof fillMinutes>): string {
  return `[${points
    .map((p) =>
      p.count === 0
        ? `[${p.time},null,0,null,null]`
        : `[${p.time},${float((p as MinutePoint).sum / p.count)},${p.count},${float((p as MinutePoint).min)},${float((p as MinutePoint).max)}]`,
    )
    .join(',')}]`;
}
