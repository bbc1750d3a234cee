// The writer half of the history codec: turns a host's samples into the bytes
// its blocks get (codec.ts describes them) and the metrics' new append states.
// Pure: it reads nothing and writes nothing; fold.lua applies what it returns,
// atomically, and only if the states it started from are still the ones in Redis.
import {
  DAY_MS,
  type Decimal,
  decimalOf,
  historyKeys,
  MINUTE_MS,
  RAW_BLOCK_MS,
  type SampleValues,
  STATE_BYTES,
} from './codec.ts';

export const BLOCK_VERSION = 1;
/** Decimal mantissas, and every sum, difference and zigzag of them, stay exact integers in a double. */
const MANTISSA_LIMIT = 2 ** 49;
const AGGREGATE_LIMIT = 2 ** 50;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Bytes being written, one block's worth, into a buffer that grows as needed. */
class Bytes {
  private buf = Buffer.allocUnsafe(64);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }
  varint(n: number): this {
    this.room(8);
    while (n >= 128) {
      this.buf[this.length++] = (n % 128) + 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.length++] = n;
    return this;
  }
  signed(n: number): this {
    return this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
  double(value: number): this {
    this.room(8);
    this.buf.writeDoubleLE(value, this.length);
    this.length += 8;
    return this;
  }
  /** A copy of the first `end` bytes (all by default). */
  bytes(end = this.length): Buffer {
    return Buffer.from(this.buf.subarray(0, end));
  }
}

/**
 * A metric's append state (17 little-endian doubles, the `state` hash's value):
 * 0 raw block hour (-1 none) 1 last time 2 last interval 3 scale 4 mantissa
 * 5 open minute (ms, -1 none) 6 count 7 doubles (1) or decimal (0) 8 scale 9 sum 10 min 11 max
 * 12 minute chain's day (-1 none) 13 its last minute of day 14 its last min 15 that min's scale
 * 16 its last count.
 */
type State = Float64Array;

const NO_STATE = [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0];

export function readState(bytes: Buffer | null | undefined): State {
  const state = new Float64Array(17);
  if (!bytes || bytes.length < STATE_BYTES) state.set(NO_STATE);
  else for (let i = 0; i < 17; i++) state[i] = bytes.readDoubleLE(i * 8);
  return state;
}

function writeState(state: State): Buffer {
  const bytes = Buffer.allocUnsafe(STATE_BYTES);
  for (let i = 0; i < 17; i++) bytes.writeDoubleLE(state[i]!, i * 8);
  return bytes;
}

/** What one block gets: appended bytes, and what a block that did not exist gets instead of its first item. */
export interface BlockWrite {
  key: string;
  bytes: Buffer;
  /** The first item in a form that needs nothing before it (a base). */
  fresh: Buffer;
  /** Length of the first item in `bytes`. */
  firstLength: number;
  /** Absolute expiry (epoch ms) for a block this write creates. */
  expireAt: number;
}

export interface HostWrites {
  blocks: BlockWrite[];
  /** Closed blocks to rewrite without spare room, after the appends. */
  trims: string[];
  /** Each touched metric's new append state. */
  states: Map<string, Buffer>;
  /** Samples raw history keeps, by raw block hour. */
  kept: Map<number, number>;
}

interface Pending {
  bytes: Bytes;
  /** The first item in a form that needs nothing before it, when it differs from the item. */
  fresh: Bytes | null;
  /** Length of the first item; -1 until one is written. */
  firstLength: number;
  expireAt: number;
}

export interface Retention {
  rawRetentionMs: number;
  minuteRetentionMs: number;
}

/** Encodes the recorded samples of one host, in the order given, from the metrics' current states. */
export class HostEncoder {
  private readonly states = new Map<string, State>();
  private readonly pending = new Map<string, Pending>();
  private readonly trims: string[] = [];
  private readonly kept = new Map<number, number>();

  constructor(
    private readonly host: string,
    stored: Map<string, Buffer | null>,
    private readonly retention: Retention,
    /** Raw points older than now less the raw retention are not kept. */
    private readonly now: number,
  ) {
    for (const [metric, bytes] of stored) this.states.set(metric, readState(bytes));
  }

  /** A recorded sample, its metrics worked out (codec.ts sampleValues). */
  add(time: number, sample: SampleValues): void {
    const rawKept = time >= this.now - this.retention.rawRetentionMs;
    const hour = Math.floor(time / RAW_BLOCK_MS);
    if (rawKept) this.kept.set(hour, (this.kept.get(hour) ?? 0) + 1);
    for (let i = 0; i < sample.names.length; i++) {
      const metric = sample.names[i]!;
      let state = this.states.get(metric);
      if (!state) {
        state = readState(null);
        this.states.set(metric, state);
      }
      const value = sample.values[i]!;
      const decimal = sample.decimals[i]!;
      if (rawKept) this.raw(metric, state, time, hour, value, decimal);
      this.minute(metric, state, time, value, decimal);
    }
  }

  finish(): HostWrites {
    const blocks: BlockWrite[] = [];
    for (const [key, p] of this.pending) {
      blocks.push({
        key,
        bytes: p.bytes.bytes(),
        fresh: p.fresh ? p.fresh.bytes() : p.bytes.bytes(p.firstLength),
        firstLength: p.firstLength,
        expireAt: p.expireAt,
      });
    }
    const states = new Map<string, Buffer>();
    for (const [metric, state] of this.states) states.set(metric, writeState(state));
    return { blocks, trims: this.trims, states, kept: this.kept };
  }

  /** The block's bytes to append an item to. */
  private block(key: string, expireAt: number): Pending {
    let p = this.pending.get(key);
    if (!p) {
      p = { bytes: new Bytes(), fresh: null, firstLength: -1, expireAt };
      this.pending.set(key, p);
    }
    return p;
  }

  /**
   * After an item was written: the block's first item is marked, with its fresh
   * form when `fresh` is given (a chained item's base).
   */
  private wrote(p: Pending, fresh?: (b: Bytes) => void): void {
    if (p.firstLength >= 0) return;
    p.firstLength = p.bytes.length;
    if (fresh) {
      p.fresh = new Bytes();
      fresh(p.fresh);
    }
  }

  private raw(
    metric: string,
    state: State,
    t: number,
    hour: number,
    value: number,
    decimal: Decimal | null,
  ): void {
    const p = this.block(
      historyKeys.rawBlock(this.host, hour, metric),
      (hour + 1) * RAW_BLOCK_MS + this.retention.rawRetentionMs,
    );
    const offset = t - hour * RAW_BLOCK_MS;
    if (!decimal) {
      p.bytes.byte(11).varint(offset).double(value);
      this.wrote(p);
      return;
    }
    const { mantissa, scale } = decimal;
    if (state[0] === hour && t >= state[1]!) {
      const delta = t - state[1]!;
      const m = scale < state[3]! ? mantissa * POW10[state[3]! - scale]! : mantissa;
      if (scale <= state[3]! && m < MANTISSA_LIMIT && m > -MANTISSA_LIMIT) {
        const dod = delta - state[2]!;
        const dv = zigzag(m - state[4]!);
        if (dod === 0) p.bytes.varint(dv * 2);
        else p.bytes.varint(dv * 4 + 1).signed(dod);
        if (p.firstLength < 0) {
          const chainScale = state[3]!;
          this.wrote(p, (b) => rawBase(b, offset, chainScale, m, delta));
        }
        state[1] = t;
        state[2] = delta;
        state[4] = m;
        return;
      }
      // A finer scale than the chain's: the chain starts again from this point.
      rawBase(p.bytes, offset, scale, mantissa, delta);
      this.wrote(p);
      state[1] = t;
      state[2] = delta;
      state[3] = scale;
      state[4] = mantissa;
      return;
    }
    if (state[0]! < hour) {
      // A newer block: its chain carries on the interval, so its second point is a step too.
      let interval = 0;
      if (state[0]! >= 0) {
        this.trims.push(historyKeys.rawBlock(this.host, state[0]!, metric));
        interval = t - state[1]!;
      }
      rawBase(p.bytes, offset, scale, mantissa, interval);
      this.wrote(p);
      state.set([hour, t, interval, scale, mantissa], 0);
      return;
    }
    // Late: the chain goes on from its own last point.
    p.bytes.byte(7).varint(offset).byte(scale).signed(mantissa);
    this.wrote(p);
  }

  private minute(
    metric: string,
    state: State,
    t: number,
    value: number,
    decimal: Decimal | null,
  ): void {
    const minute = t - (t % MINUTE_MS);
    if (state[5] === minute) this.addToOpen(state, value, decimal);
    else if (state[5]! < minute) {
      this.closeOpen(metric, state);
      state[5] = minute;
      state[6] = 1;
      if (decimal)
        state.set([0, decimal.scale, decimal.mantissa, decimal.mantissa, decimal.mantissa], 7);
      else state.set([1, 0, value, value, value], 7);
    } else {
      // A late sample for a closed minute: a standalone record that readers add in.
      const day = Math.floor(minute / DAY_MS);
      const minuteOfDay = (minute - day * DAY_MS) / MINUTE_MS;
      const p = this.block(this.minuteKey(metric, day), this.minuteExpiry(day));
      if (decimal) {
        const m = decimal.mantissa;
        record(p.bytes, 2, minuteOfDay, 1, false, decimal.scale, m, m, m);
      } else record(p.bytes, 2, minuteOfDay, 1, true, 0, value, value, value);
      this.wrote(p);
    }
  }

  private addToOpen(state: State, value: number, decimal: Decimal | null): void {
    if (state[7] === 0 && decimal) {
      let s = state[8]!;
      let sum = state[9]!;
      let low = state[10]!;
      let high = state[11]!;
      let m = decimal.mantissa;
      if (decimal.scale > s) {
        const k = POW10[decimal.scale - s]!;
        s = decimal.scale;
        sum *= k;
        low *= k;
        high *= k;
      } else if (decimal.scale < s) m *= POW10[s - decimal.scale]!;
      sum += m;
      if (m < low) low = m;
      if (m > high) high = m;
      const count = state[6]! + 1;
      if (
        Math.abs(sum) < AGGREGATE_LIMIT &&
        Math.max(Math.abs(low), Math.abs(high)) * count < AGGREGATE_LIMIT
      ) {
        state.set([count, 0, s, sum, low, high], 6);
        return;
      }
    }
    // Doubles from here on: a double that is no short decimal, or sums too large to keep exact.
    if (state[7] === 0) {
      const d = POW10[state[8]!]!;
      state.set([1, 0, state[9]! / d, state[10]! / d, state[11]! / d], 7);
    }
    state[6] = state[6]! + 1;
    state[9] = state[9]! + value;
    if (value < state[10]!) state[10] = value;
    if (value > state[11]!) state[11] = value;
  }

  /** Moves the open minute into its day's block, chained to the record before it. */
  private closeOpen(metric: string, state: State): void {
    if (state[5]! < 0) return;
    const day = Math.floor(state[5]! / DAY_MS);
    const minuteOfDay = (state[5]! - day * DAY_MS) / MINUTE_MS;
    const doubles = state[7] === 1;
    const [count, scale, sum, low, high] = [
      state[6]!,
      state[8]!,
      state[9]!,
      state[10]!,
      state[11]!,
    ];
    const p = this.block(this.minuteKey(metric, day), this.minuteExpiry(day));
    if (state[12] === day) {
      const last = { minute: state[13]!, low: state[14]!, scale: state[15]!, count: state[16]! };
      record(p.bytes, 0, minuteOfDay, count, doubles, scale, sum, low, high, last);
      if (p.firstLength < 0)
        this.wrote(p, (b) => record(b, 1, minuteOfDay, count, doubles, scale, sum, low, high));
    } else {
      if (state[12]! >= 0) this.trims.push(this.minuteKey(metric, state[12]!));
      record(p.bytes, 1, minuteOfDay, count, doubles, scale, sum, low, high);
      this.wrote(p);
    }
    // A record of doubles leaves no decimal min to count from (chained or base alike).
    state.set([day, minuteOfDay, doubles ? 0 : low, doubles ? 0 : scale, count], 12);
    state[5] = -1;
  }

  private minuteKey(metric: string, day: number): string {
    return historyKeys.minuteBlock(this.host, day, metric);
  }

  private minuteExpiry(day: number): number {
    return (day + 1) * DAY_MS + this.retention.minuteRetentionMs;
  }
}

/** A base point: time offset, scale, mantissa and the interval steps after it count from. */
function rawBase(
  b: Bytes,
  offset: number,
  scale: number,
  mantissa: number,
  interval: number,
): void {
  b.byte(3).varint(offset).byte(scale).signed(mantissa).signed(interval);
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** A minute record: kind 0 chained (to `last`), 1 base, 2 standalone; see codec.ts. */
function record(
  b: Bytes,
  kind: 0 | 1 | 2,
  minuteOfDay: number,
  count: number,
  doubles: boolean,
  scale: number,
  sum: number,
  low: number,
  high: number,
  last?: { minute: number; low: number; scale: number; count: number },
): void {
  const header = kind + (doubles ? 4 : 0) + scale * 8;
  if (kind !== 0 || !last) b.byte(header).varint(minuteOfDay).varint(count);
  else if (minuteOfDay === last.minute + 1 && count === last.count) b.byte(header + 128);
  else
    b.byte(header)
      .signed(minuteOfDay - last.minute)
      .varint(count);
  if (doubles) {
    b.double(sum).double(low).double(high);
    return;
  }
  const from = kind === 0 && last && scale === last.scale ? last.low : 0;
  b.signed(low - from)
    .varint(high - low)
    .varint(sum - count * low);
}

/** A standalone raw point, for the upgrade from layout 1 (no chain to join). */
export function standalonePoint(time: number, value: number): { hour: number; bytes: Buffer } {
  const hour = Math.floor(time / RAW_BLOCK_MS);
  const offset = time - hour * RAW_BLOCK_MS;
  const decimal = decimalOf(value);
  const b = new Bytes();
  if (decimal) b.byte(7).varint(offset).byte(decimal.scale).signed(decimal.mantissa);
  else b.byte(11).varint(offset).double(value);
  return { hour, bytes: b.bytes() };
}

/** A standalone minute record, for the upgrade: decimals when all three are short decimals of one scale. */
export function standaloneMinute(
  minute: number,
  count: number,
  sum: number,
  min: number,
  max: number,
  decimal: { scale: number; sum: number; min: number; max: number } | null,
): { day: number; bytes: Buffer } {
  const day = Math.floor(minute / DAY_MS);
  const minuteOfDay = (minute - day * DAY_MS) / MINUTE_MS;
  const b = new Bytes();
  if (decimal)
    record(b, 2, minuteOfDay, count, false, decimal.scale, decimal.sum, decimal.min, decimal.max);
  else record(b, 2, minuteOfDay, count, true, 0, sum, min, max);
  return { day, bytes: b.bytes() };
}

/**
 * A host's block writes as fold.lua reads them, in one script argument: one
 * argument per field cost the receiver more in ioredis than the encoding itself.
 * Per write, big-endian: the key after the host's prefix (u16 length, then the
 * bytes), the bytes to append and the fresh first item (u32 length each), the
 * first item's length (u32) and the expiry (double, epoch ms).
 */
export function packBlockWrites(blocks: readonly BlockWrite[], prefix: string): Buffer {
  const suffixes = blocks.map((b) => b.key.slice(prefix.length));
  let size = 0;
  blocks.forEach((b, i) => {
    size += 2 + Buffer.byteLength(suffixes[i]!) + 4 + b.bytes.length + 4 + b.fresh.length + 12;
  });
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  blocks.forEach((b, i) => {
    const suffixLength = out.write(suffixes[i]!, at + 2);
    out.writeUInt16BE(suffixLength, at);
    at += 2 + suffixLength;
    out.writeUInt32BE(b.bytes.length, at);
    at += 4 + b.bytes.copy(out, at + 4);
    out.writeUInt32BE(b.fresh.length, at);
    at += 4 + b.fresh.copy(out, at + 4);
    out.writeUInt32BE(b.firstLength, at);
    out.writeDoubleBE(b.expireAt, at + 4);
    at += 12;
  });
  return out;
}

/** The metrics' new append states in one script argument: per metric, its name (u8 length) and state (u16 length). */
export function packStates(states: ReadonlyMap<string, Buffer>): Buffer {
  let size = 0;
  for (const [metric, state] of states) size += 1 + Buffer.byteLength(metric) + 2 + state.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [metric, state] of states) {
    const nameLength = out.write(metric, at + 1);
    out[at] = nameLength;
    at += 1 + nameLength;
    out.writeUInt16BE(state.length, at);
    at += 2 + state.copy(out, at + 2);
  }
  return out;
}
