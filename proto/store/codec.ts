// The history codec: the one module that knows how a host's samples sit in Redis.
// store.lua and fold.lua write what this file reads; nothing else knows the bytes.
// Values come back exactly as they were posted (every double, -0.0 included).
//
// Layout, version 2 ({loadstar}:layout = "2"). Every key of a host starts with
// `ls:{host}:`, one hash tag, so a host's fold is one atomic script on a Cluster.
//
// | key                       | type   | what                                                        |
// | ------------------------- | ------ | ----------------------------------------------------------- |
// | ls:{h}:latest             | hash   | metric -> "time|token": the host's newest value per metric  |
// | ls:{h}:meta               | hash   | interval, first_seen, last_seen, samples                    |
// | ls:{h}:metrics            | set    | the metric names the host reports                           |
// | ls:{h}:r:<hour>:<metric>  | string | raw block: one hour (epoch ms / 3,600,000) of one metric    |
// | ls:{h}:m:<day>:<metric>   | string | minute block: one UTC day's one-minute aggregates           |
// | ls:{h}:state              | hash   | metric -> 136 bytes: where the raw chain and the open minute |
// |                           |        | stand (17 little-endian doubles, see store.lua STATE)       |
// | ls:{h}:kept               | hash   | raw block hour -> samples recorded in it                    |
// | ls:{h}:d:<0..63>          | string | dedup record, sharded by the id hash's first byte           |
// | {loadstar}:latest         | hash   | metric -> "time|host|interval|token": newest from any host  |
// | {loadstar}:hosts          | zset   | host -> last seen time                                      |
//
// Value tokens (latest values, and the fold's arguments): a decimal of at most 14
// significant digits and 15 decimals is "<mantissa>" or "<mantissa>e-<scale>"
// (12.34 -> "1234e-2"); any other double is "f" + its shortest text ("f-0",
// "f5e-324", "f0.30000000000000004"). Both parse back to the same double.
//
// Blocks start with a version byte (1). Integers are unsigned LEB128 varints;
// signed ones are zigzagged (0, -1, 1, -2 -> 0, 1, 2, 3). A decimal is a mantissa
// and a scale: value = mantissa / 10^scale, which is exactly the posted double.
//
// Raw block points, told apart by the first varint v:
// - v even: a step: the same interval as before; value mantissa += unzigzag(v / 2).
// - v % 4 = 1: a jump: mantissa += unzigzag((v - 1) / 4); then varint zigzag(dod):
//   interval += dod; time += interval.
// - v = 3: a base: varint time offset in the block (ms), scale byte, varint zigzag(mantissa),
//   varint zigzag(interval); steps and jumps after it count from it.
// - v = 7: a standalone decimal (same fields as a base), v = 11: a standalone double
//   (varint offset, 8-byte little-endian double); neither moves the chain. Late
//   samples and doubles that are no short decimal are standalone.
// Points are in arrival order; readers sort by time.
//
// Minute block records (aggregates of one minute: count, sum, min, max). Header byte:
// bits 0-1 kind (0 chained, 1 base, 2 standalone), bit 2 doubles, bits 3-6 scale, bit 7
// "the chain's next minute, with its count" (chained only; the two fields are left out).
// Then the minute of the day (chained: varint zigzag(delta from the chain's last
// minute); else varint), varint count, and either three little-endian doubles sum, min, max, or
// decimals: varint zigzag(min - m0) where m0 is the chain's last min when a chained
// record has the scale of the chain's last record, else 0 (a record of doubles
// leaves 0 behind); varint (max - min); varint (sum - count * min).
// A base starts the chain anew, a standalone (a late sample's minute) leaves it alone.
// A minute may have several records (a late sample after the minute closed); readers
// add them up. The minute still open sits in the state hash, not in a block.
//
// Dedup entries: 12 bytes, the first 8 bytes of SHA-1 of the sample id, then the
// second (big-endian uint32) it was folded; kept SAMPLE_MAX_AGE plus 10 minutes.
//
// Retention: a raw block expires HISTORY_RAW_RETENTION after its hour ends, a
// minute block HISTORY_1M_RETENTION after its day ends, each by Redis itself.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { keys } from '../keys.ts';

export const LAYOUT_VERSION = '2';
export const RAW_BLOCK_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;
const BLOCK_VERSION = 1;
const DEDUP_SHARDS = 64;
export const STATE_BYTES = 136;
/** Exact powers of ten up to the largest scale a token may have. */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Keys of the history layout; the scripts derive the same names from the host's prefix. */
export const historyKeys = {
  layout: '{loadstar}:layout',
  /** What every key of a host starts with (one hash tag). */
  prefix: (host: string) => `ls:{${host}}:`,
  rawBlock: (host: string, hour: number, metric: string) => `ls:{${host}}:r:${hour}:${metric}`,
  minuteBlock: (host: string, day: number, metric: string) => `ls:{${host}}:m:${day}:${metric}`,
  state: (host: string) => `ls:{${host}}:state`,
  kept: (host: string) => `ls:{${host}}:kept`,
  dedupShard: (host: string, shard: number) => `ls:{${host}}:d:${shard}`,
};

/** The UTC day number of an epoch-ms time: which minute block holds it. */
export function dayOf(time: number): number {
  return Math.floor(time / DAY_MS);
}

export function hourOf(time: number): number {
  return Math.floor(time / RAW_BLOCK_MS);
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A short decimal: value = mantissa / 10^scale, exactly. */
export interface Decimal {
  mantissa: number;
  scale: number;
}

/**
 * A value as a short decimal: an integer mantissa of at most 14 digits and a
 * scale of at most 15 decimals (value = mantissa / 10^scale, exactly), or null
 * when it is no such decimal (it is then kept as a double).
 */
export function decimalOf(value: number): Decimal | null {
  if (Number.isInteger(value)) {
    return Object.is(value, -0) || Math.abs(value) >= 1e14 ? null : { mantissa: value, scale: 0 };
  }
  const parts = DECIMAL.exec(String(value));
  if (!parts) return null;
  const fraction = parts[3] ?? '';
  const digits = (parts[2]! + fraction).replace(/^0+(?=\d)/, '');
  if (digits.length > 14 || fraction.length > 15) return null;
  return { mantissa: Number(parts[1] + digits), scale: fraction.length };
}

function tokenOf(value: number, decimal: Decimal | null): string {
  if (!decimal) return `f${Object.is(value, -0) ? '-0' : String(value)}`;
  return decimal.scale === 0 ? String(decimal.mantissa) : `${decimal.mantissa}e-${decimal.scale}`;
}

/** The token a value travels and is kept as (see the header): exact, and short for decimals. */
export function valueToken(value: number): string {
  return tokenOf(value, decimalOf(value));
}

/** A sample's metrics worked out once for a fold: their decimals, and the text fold.lua reads. */
export interface SampleValues {
  names: string[];
  values: number[];
  decimals: (Decimal | null)[];
  /** "name token name token ...": the latest values' form (fold.lua). */
  packed: string;
}

export function sampleValues(metrics: Record<string, number>): SampleValues {
  const names: string[] = [];
  const values: number[] = [];
  const decimals: (Decimal | null)[] = [];
  let packed = '';
  for (const name in metrics) {
    const value = metrics[name]!;
    const decimal = decimalOf(value);
    names.push(name);
    values.push(value);
    decimals.push(decimal);
    packed += `${name} ${tokenOf(value, decimal)} `;
  }
  return { names, values, decimals, packed };
}

/** A token back to its value. */
export function tokenValue(token: string): number {
  return Number(token.charCodeAt(0) === 0x66 ? token.slice(1) : token);
}

/** The dedup record's key for an id: the first 8 bytes of its SHA-1. */
export function idHash(id: string): Buffer {
  return createHash('sha1').update(id).digest().subarray(0, 8);
}

export function dedupShardOf(hash: Buffer): number {
  return hash[0]! % DEDUP_SHARDS;
}

/** A host's newest value of a metric, from its `latest` hash. */
export function parseHostLatest(text: string): { time: number; value: number } {
  const bar = text.indexOf('|');
  return { time: Number(text.slice(0, bar)), value: tokenValue(text.slice(bar + 1)) };
}

/** The newest value of a metric from any host, from `{loadstar}:latest`. */
export function parseGlobalLatest(text: string): {
  time: number;
  host: string;
  interval: number;
  value: number;
} {
  // "time|host|interval|token": host names never hold '|'.
  const [time, host, interval, token] = text.split('|') as [string, string, string, string];
  return { time: Number(time), host, interval: Number(interval), value: tokenValue(token) };
}

/** Just the value of either kind of latest entry (the token is always last). */
export function latestValue(text: string): number {
  return tokenValue(text.slice(text.lastIndexOf('|') + 1));
}

/** A block ended inside a point: the points before it stand. */
class Truncated extends Error {}

/**
 * Reads the varint at `at` of `buf` into `cursor.value` and returns the position
 * after it. Varints may reach 2^53: arithmetic, not bit shifts.
 */
function varintAt(buf: Buffer, at: number, cursor: { value: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (at >= buf.length) throw new Truncated();
    const b = buf[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      cursor.value = value;
      return at;
    }
    scale *= 128;
  }
}

function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** A full column, copied into one twice its size. */
function doubled<T extends Float64Array | Int8Array>(column: T): T {
  const next = new (column.constructor as { new (length: number): T })(column.length * 2);
  next.set(column);
  return next;
}

/**
 * Raw points column by column (a day's read holds 17,280 of a metric): each
 * value with its decimals when it was stored as a short decimal, so an answer
 * prints it from its digits instead of formatting a double.
 */
export class RawSeries {
  time = new Float64Array(256);
  value = new Float64Array(256);
  /** Decimals of the value when stored as a decimal, -1 when stored as a double. */
  scale = new Int8Array(256);
  length = 0;

  push(time: number, value: number, scale: number): void {
    if (this.length === this.time.length) {
      this.time = doubled(this.time);
      this.value = doubled(this.value);
      this.scale = doubled(this.scale);
    }
    this.time[this.length] = time;
    this.value[this.length] = value;
    this.scale[this.length++] = scale;
  }
}

/** Raw points of one block, appended to `out` in block order; a damaged tail is left out. */
export function decodeRawBlock(block: Buffer, hour: number, out: RawSeries): void {
  if (block.length === 0 || block[0] !== BLOCK_VERSION) return;
  const start = hour * RAW_BLOCK_MS;
  const cursor = { value: 0 };
  let at = 1;
  let chained = false;
  let time = 0;
  let interval = 0;
  let divisor = 1;
  let chainScale = 0;
  let mantissa = 0;
  try {
    while (at < block.length) {
      // Most points are one- or two-byte steps: read those without a call.
      let v = block[at]!;
      if (v < 0x80) at++;
      else {
        at = varintAt(block, at, cursor);
        v = cursor.value;
      }
      if (v % 2 === 0) {
        if (!chained) return;
        mantissa += unzigzag(v / 2);
        time += interval;
        out.push(time, mantissa / divisor, chainScale);
        continue;
      }
      if (v % 4 === 1) {
        if (!chained) return;
        mantissa += unzigzag((v - 1) / 4);
        at = varintAt(block, at, cursor);
        interval += unzigzag(cursor.value);
        time += interval;
        out.push(time, mantissa / divisor, chainScale);
        continue;
      }
      at = varintAt(block, at, cursor);
      const pointTime = start + cursor.value;
      if (v === 11) {
        if (at + 8 > block.length) return;
        out.push(pointTime, block.readDoubleLE(at), -1);
        at += 8;
        continue;
      }
      if ((v !== 3 && v !== 7) || at >= block.length) return;
      const scale = block[at++]!;
      at = varintAt(block, at, cursor);
      const m = unzigzag(cursor.value);
      if (scale >= POW10.length) return;
      out.push(pointTime, m / POW10[scale]!, scale);
      if (v === 3) {
        at = varintAt(block, at, cursor);
        chained = true;
        time = pointTime;
        interval = unzigzag(cursor.value);
        divisor = POW10[scale]!;
        chainScale = scale;
        mantissa = m;
      }
    }
  } catch (err) {
    if (!(err instanceof Truncated)) throw err;
  }
}

/**
 * One minute's aggregate. `sum` and `avg` come from the exact decimal sum where
 * the values were short decimals, so the average is right to the last digit.
 */
export interface MinutePoint {
  time: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  /** The decimals of the minute's values when all were short decimals (min and max are then exact decimals of it), else null. */
  scale: number | null;
}

/**
 * Minutes as stored, column by column (a 30-day read holds 43,200 of them): a
 * decimal (sum, min, max are mantissas of `scale`) or doubles (scale -1).
 */
class MinuteParts {
  time = new Float64Array(1024);
  count = new Float64Array(1024);
  scale = new Int8Array(1024);
  sum = new Float64Array(1024);
  min = new Float64Array(1024);
  max = new Float64Array(1024);
  length = 0;

  push(time: number, count: number, scale: number, sum: number, min: number, max: number): void {
    if (this.length === this.time.length) {
      this.time = doubled(this.time);
      this.count = doubled(this.count);
      this.scale = doubled(this.scale);
      this.sum = doubled(this.sum);
      this.min = doubled(this.min);
      this.max = doubled(this.max);
    }
    const i = this.length++;
    this.time[i] = time;
    this.count[i] = count;
    this.scale[i] = scale;
    this.sum[i] = sum;
    this.min[i] = min;
    this.max[i] = max;
  }
}

function decodeMinuteBlock(block: Buffer, day: number, out: MinuteParts): void {
  if (block.length === 0 || block[0] !== BLOCK_VERSION) return;
  const start = day * DAY_MS;
  const cursor = { value: 0 };
  let at = 1;
  let lastMinute = 0;
  let lastCount = 0;
  let lastLow = 0;
  let lastScale = 0;
  try {
    while (at < block.length) {
      const header = block[at++]!;
      const kind = header & 3;
      const doubles = (header & 4) !== 0;
      const scale = (header >> 3) & 15;
      const following = (header & 128) !== 0;
      if (kind === 3 || (following && kind !== 0)) return;
      let minute: number;
      let count: number;
      if (following) {
        minute = lastMinute + 1;
        count = lastCount;
      } else {
        at = varintAt(block, at, cursor);
        minute = kind === 0 ? lastMinute + unzigzag(cursor.value) : cursor.value;
        at = varintAt(block, at, cursor);
        count = cursor.value;
      }
      const time = start + minute * MINUTE_MS;
      let low: number;
      if (doubles) {
        if (at + 24 > block.length) return;
        low = block.readDoubleLE(at + 8);
        out.push(time, count, -1, block.readDoubleLE(at), low, block.readDoubleLE(at + 16));
        at += 24;
      } else {
        at = varintAt(block, at, cursor);
        low = (kind === 0 && scale === lastScale ? lastLow : 0) + unzigzag(cursor.value);
        at = varintAt(block, at, cursor);
        const high = low + cursor.value;
        at = varintAt(block, at, cursor);
        out.push(time, count, scale, count * low + cursor.value, low, high);
      }
      if (kind === 2) continue;
      lastMinute = minute;
      lastCount = count;
      lastLow = doubles ? 0 : low;
      lastScale = doubles ? 0 : scale;
    }
  } catch (err) {
    if (!(err instanceof Truncated)) throw err;
  }
}

/** The minute still open for a metric, from its state entry. */
function decodeOpenMinute(state: Buffer | null, out: MinuteParts): void {
  if (!state || state.length < STATE_BYTES) return;
  const field = (i: number) => state.readDoubleLE(i * 8);
  if (field(5) < 0) return;
  out.push(field(5), field(6), field(7) === 1 ? -1 : field(8), field(9), field(10), field(11));
}

const EXACT = 2 ** 53;

/** One-minute aggregates column by column, oldest first: what a long read keeps cheap. */
export class MinuteSeries {
  time = new Float64Array(1024);
  count = new Float64Array(1024);
  sum = new Float64Array(1024);
  avg = new Float64Array(1024);
  min = new Float64Array(1024);
  max = new Float64Array(1024);
  /** The decimals of the minute's values when all were short decimals, else -1. */
  scale = new Int8Array(1024);
  /** Whether the average is itself a decimal of `scale` decimals (the sum divides by the count). */
  decimalAvg = new Int8Array(1024);
  length = 0;

  /** Adds a minute from its stored form (decimal mantissas of `scale`, or doubles when scale is -1). */
  add(time: number, count: number, scale: number, sum: number, min: number, max: number): void {
    if (this.length === this.time.length) {
      for (const column of ['time', 'count', 'sum', 'avg', 'min', 'max'] as const)
        this[column] = doubled(this[column]);
      this.scale = doubled(this.scale);
      this.decimalAvg = doubled(this.decimalAvg);
    }
    const i = this.length++;
    this.time[i] = time;
    this.count[i] = count;
    this.scale[i] = scale;
    if (scale < 0) {
      this.sum[i] = sum;
      this.avg[i] = sum / count;
      this.min[i] = min;
      this.max[i] = max;
      this.decimalAvg[i] = 0;
      return;
    }
    const d = POW10[scale]!;
    const divisor = count * d;
    this.sum[i] = sum / d;
    // One division of two exact integers: the correctly rounded average of the exact sum.
    const whole = Math.abs(sum) < EXACT && sum % count === 0;
    this.avg[i] = whole ? sum / count / d : divisor < EXACT ? sum / divisor : sum / d / count;
    this.decimalAvg[i] = whole ? 1 : 0;
    this.min[i] = min / d;
    this.max[i] = max / d;
  }

  point(i: number): MinutePoint {
    const scale = this.scale[i]!;
    return {
      time: this.time[i]!,
      count: this.count[i]!,
      sum: this.sum[i]!,
      avg: this.avg[i]!,
      min: this.min[i]!,
      max: this.max[i]!,
      scale: scale < 0 ? null : scale,
    };
  }
}

/** Adds up the parts of each minute in [from, to] and gives each its exact average. */
function mergeMinutes(parts: MinuteParts, from: number, to: number): MinuteSeries {
  // Blocks come day by day and records in order, bar late ones: sort only when needed.
  let order: number[] | null = null;
  for (let i = 1; i < parts.length; i++) {
    if (parts.time[i]! <= parts.time[i - 1]!) {
      order = Array.from({ length: parts.length }, (_, j) => j).sort(
        (a, b) => parts.time[a]! - parts.time[b]!,
      );
      break;
    }
  }
  const series = new MinuteSeries();
  let time = Number.NaN;
  let count = 0;
  let scale = 0;
  let sum = 0;
  let min = 0;
  let max = 0;
  for (let k = 0; k < parts.length; k++) {
    const i = order ? order[k]! : k;
    const t = parts.time[i]!;
    if (t < from || t > to) continue;
    if (t !== time) {
      if (count > 0) series.add(time, count, scale, sum, min, max);
      time = t;
      count = parts.count[i]!;
      scale = parts.scale[i]!;
      sum = parts.sum[i]!;
      min = parts.min[i]!;
      max = parts.max[i]!;
      continue;
    }
    // A second record of the same minute (a late sample): add it in.
    const s = parts.scale[i]!;
    if (scale >= 0 && s >= 0) {
      const target = Math.max(scale, s);
      const ka = POW10[target - scale]!;
      const kb = POW10[target - s]!;
      const total = sum * ka + parts.sum[i]! * kb;
      if (
        Math.abs(sum * ka) < EXACT &&
        Math.abs(parts.sum[i]! * kb) < EXACT &&
        Math.abs(total) < EXACT
      ) {
        count += parts.count[i]!;
        scale = target;
        sum = total;
        min = Math.min(min * ka, parts.min[i]! * kb);
        max = Math.max(max * ka, parts.max[i]! * kb);
        continue;
      }
    }
    const da = scale >= 0 ? POW10[scale]! : 1;
    const db = s >= 0 ? POW10[s]! : 1;
    count += parts.count[i]!;
    sum = sum / da + parts.sum[i]! / db;
    min = Math.min(min / da, parts.min[i]! / db);
    max = Math.max(max / da, parts.max[i]! / db);
    scale = -1;
  }
  if (count > 0) series.add(time, count, scale, sum, min, max);
  return series;
}

/** Anything that can run these reads: a client, a pipeline or a MULTI. */
interface BufferReads {
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  hgetBuffer(key: string, field: string): Promise<Buffer | null>;
}

/** The keys a raw read of [from, to] looks at, one per hour. */
export function rawBlockKeys(host: string, metric: string, from: number, to: number) {
  const hours: number[] = [];
  for (let hour = hourOf(from); hour <= hourOf(to); hour++) hours.push(hour);
  return { hours, keys: hours.map((h) => historyKeys.rawBlock(host, h, metric)) };
}

/** Raw points in [from, to], oldest first, from the blocks `rawBlockKeys` named. */
export function rawSeries(
  hours: number[],
  blocks: (Buffer | null)[],
  from: number,
  to: number,
): RawSeries {
  const all = new RawSeries();
  blocks.forEach((block, i) => {
    if (block) decodeRawBlock(block, hours[i]!, all);
  });
  const order: number[] = [];
  let sorted = true;
  for (let i = 0; i < all.length; i++) {
    const t = all.time[i]!;
    if (t < from || t > to) continue;
    if (order.length > 0 && t < all.time[order[order.length - 1]!]!) sorted = false;
    order.push(i);
  }
  if (sorted && order.length === all.length) return all;
  // Stable, so samples of the same time keep their arrival order.
  if (!sorted) order.sort((a, b) => all.time[a]! - all.time[b]!);
  const out = new RawSeries();
  for (const i of order) out.push(all.time[i]!, all.value[i]!, all.scale[i]!);
  return out;
}

/** Raw points as [time, value] pairs, for reads of a few of them. */
export function pairsOf(series: RawSeries): [number, number][] {
  return Array.from({ length: series.length }, (_, i) => [series.time[i]!, series.value[i]!]);
}

/** The same points as [time, value] pairs. */
export function rawPoints(
  hours: number[],
  blocks: (Buffer | null)[],
  from: number,
  to: number,
): [number, number][] {
  return pairsOf(rawSeries(hours, blocks, from, to));
}

/** Raw points of one metric of one host in [from, to], oldest first, as columns. */
export async function readRawSeries(
  redis: BufferReads,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<RawSeries> {
  const { hours, keys: blockKeys } = rawBlockKeys(host, metric, from, to);
  if (blockKeys.length === 0) return new RawSeries();
  return rawSeries(hours, await redis.mgetBuffer(...blockKeys), from, to);
}

/** Raw points of one metric of one host in [from, to], oldest first. */
export async function readRawPoints(
  redis: BufferReads,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<[number, number][]> {
  return pairsOf(await readRawSeries(redis, host, metric, from, to));
}

/** The one-minute aggregates of the minutes in [from, to] that have any, oldest first, as columns. */
export async function readMinuteSeries(
  redis: BufferReads,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<MinuteSeries> {
  const days: number[] = [];
  for (let day = dayOf(from); day <= dayOf(to); day++) days.push(day);
  const [blocks, state] = await Promise.all([
    redis.mgetBuffer(...days.map((d) => historyKeys.minuteBlock(host, d, metric))),
    redis.hgetBuffer(historyKeys.state(host), metric),
  ]);
  const parts = new MinuteParts();
  blocks.forEach((block, i) => {
    if (block) decodeMinuteBlock(block, days[i]!, parts);
  });
  decodeOpenMinute(state, parts);
  return mergeMinutes(parts, from - (from % MINUTE_MS), to);
}

/** The one-minute aggregates of the minutes in [from, to] that have any, oldest first. */
export async function readMinutePoints(
  redis: BufferReads,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<MinutePoint[]> {
  const series = await readMinuteSeries(redis, host, metric, from, to);
  return Array.from({ length: series.length }, (_, i) => series.point(i));
}

/** Samples raw history keeps now, from the host's `kept` counts. */
export function keptSamples(
  counts: Record<string, string>,
  rawRetentionMs: number,
  now = Date.now(),
): number {
  let total = 0;
  for (const [hour, count] of Object.entries(counts)) {
    if ((Number(hour) + 1) * RAW_BLOCK_MS + rawRetentionMs > now) total += Number(count);
  }
  return total;
}

/** Every history key of a host over the given metrics and retention: what a reset deletes. */
export function historyKeysOf(
  host: string,
  metrics: string[],
  retention: { rawRetentionMs: number; minuteRetentionMs: number },
  now = Date.now(),
): string[] {
  const out = [historyKeys.state(host), historyKeys.kept(host)];
  const firstHour = hourOf(now - retention.rawRetentionMs) - 1;
  const firstDay = dayOf(now - retention.minuteRetentionMs) - 1;
  for (const metric of metrics) {
    for (let hour = firstHour; hour <= hourOf(now) + 1; hour++)
      out.push(historyKeys.rawBlock(host, hour, metric));
    for (let day = firstDay; day <= dayOf(now) + 1; day++)
      out.push(historyKeys.minuteBlock(host, day, metric));
  }
  return out;
}

const script = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');
const STORE = script('./store.lua');
const FOLD = script('./fold.lua');

/**
 * The Lua the fold runs, as whole scripts (each a library and an entry). Every
 * fold script takes the arguments fold.lua describes — settings, then a group
 * per host — and answers an outcome per sample, in order.
 */
export const scripts = {
  /** The hosts' own keys. KEYS[1]: a key of the (one) host, to route the call on a Cluster. */
  foldHost: `${STORE}\n${FOLD}
local outcomes = {}
local at = 3
while at <= #ARGV do at = fold_host(ARGV, at, nil, outcomes) end
return outcomes`,
  /** The keys that span hosts. KEYS[1] {loadstar}:latest, KEYS[2] {loadstar}:hosts. */
  foldLatest: `${STORE}\n${FOLD}
local at = 3
while at <= #ARGV do
  fold_latest(KEYS[1], KEYS[2], ARGV, at)
  at = next_group_of(ARGV, at)
end
return 1`,
  /**
   * Both as one, for a single Redis server, where keys of different hash tags may
   * meet in one script: one round trip for any number of hosts. The cross-host
   * part of each group runs first, as in the two-call form. KEYS[1] {loadstar}:latest,
   * [2] {loadstar}:hosts, [3] all hosts' recording rules.
   */
  foldAll: `${STORE}\n${FOLD}
local all_rules = redis.call('HMGET', KEYS[3], 'paused', 'wiped_before')
local outcomes = {}
local at = 3
while at <= #ARGV do
  fold_latest(KEYS[1], KEYS[2], ARGV, at)
  at = fold_host(ARGV, at, all_rules, outcomes)
end
return outcomes`,
  /** ARGV: groups of host, n, n id hashes (KEYS[1] routes a one-host call). Answers 1 (folded before) or 0 per hash. */
  check: `${STORE}
local found = {}
local i = 1
while i <= #ARGV do
  local p, n = host_prefix(ARGV[i]), tonumber(ARGV[i + 1])
  for j = i + 2, i + 1 + n do
    found[#found + 1] = dedup_has(redis.call('GET', dedup_key(p, ARGV[j])), ARGV[j]) and 1 or 0
  end
  i = i + 2 + n
end
return found`,
};

/** A sample's metrics as fold.lua reads them: "name token name token ...". */
export function packedTokens(metrics: Record<string, number>): string {
  return sampleValues(metrics).packed;
}

/** The key a host's scripts are routed by. */
export function hostRouteKey(host: string): string {
  return keys.hostMeta(host);
}
