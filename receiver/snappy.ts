// Snappy's block format (as Prometheus remote_write sends it: one block, no
// framing), both ways. Decompression checks every length and offset against
// the input and the declared size before it copies a byte, so a hostile body
// costs at most `maxLength` bytes and never reads outside what it was given.
//
// A block is the uncompressed length as a varint, then elements. Each element's
// tag byte has its type in the low two bits:
//   00 literal: length-1 in the upper six bits (60..63: the length in 1..4 more bytes), then the bytes
//   01 copy: length-4 in bits 2..4, offset's high 3 bits in 5..7, one more offset byte
//   10 copy: length-1 in the upper six bits, two offset bytes (little endian)
//   11 copy: length-1 in the upper six bits, four offset bytes (little endian)
// A copy repeats `length` bytes starting `offset` bytes back (it may overlap itself).
import { LoadstarError } from '../proto/errors.ts';

export class SnappyError extends LoadstarError {
  constructor(message: string) {
    super('bad_input', message);
  }
}

/** The declared uncompressed length and where the elements start. */
function readLength(input: Uint8Array): { length: number; at: number } {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= input.length) throw new SnappyError('snappy block ends inside its length');
    const byte = input[i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return { length, at: i + 1 };
  }
  throw new SnappyError('snappy block length is longer than 32 bits');
}

/** The uncompressed length a block declares, without decompressing it. */
export function snappyLength(input: Uint8Array): number {
  return readLength(input).length;
}

export function snappyDecompress(input: Uint8Array, maxLength: number): Buffer {
  const { length, at: start } = readLength(input);
  if (length > maxLength) {
    throw new SnappyError(
      `snappy block declares ${length} bytes uncompressed, more than the limit of ${maxLength}`,
    );
  }
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  let i = start;
  while (i < input.length) {
    const tag = input[i++]!;
    const type = tag & 3;
    if (type === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (i + extra > input.length) throw new SnappyError('snappy literal length is cut short');
        len = 0;
        for (let k = 0; k < extra; k++) len += input[i + k]! * 2 ** (8 * k);
        i += extra;
      }
      len += 1;
      if (i + len > input.length)
        throw new SnappyError('snappy literal runs past the end of the block');
      if (o + len > length) throw new SnappyError('snappy block holds more than it declares');
      out.set(input.subarray(i, i + len), o);
      i += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (type === 1) {
      if (i + 1 > input.length) throw new SnappyError('snappy copy is cut short');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[i]!;
      i += 1;
    } else if (type === 2) {
      if (i + 2 > input.length) throw new SnappyError('snappy copy is cut short');
      len = (tag >>> 2) + 1;
      offset = input[i]! | (input[i + 1]! << 8);
      i += 2;
    } else {
      if (i + 4 > input.length) throw new SnappyError('snappy copy is cut short');
      len = (tag >>> 2) + 1;
      offset = (input[i]! | (input[i + 1]! << 8) | (input[i + 2]! << 16)) + input[i + 3]! * 2 ** 24;
      i += 4;
    }
    if (offset === 0 || offset > o)
      throw new SnappyError(`snappy copy reaches before the start (offset ${offset})`);
    if (o + len > length) throw new SnappyError('snappy block holds more than it declares');
    // Byte by byte: a copy may overlap what it writes (a run of one repeated pattern).
    for (let k = 0; k < len; k++) out[o + k] = out[o + k - offset]!;
    o += len;
  }
  if (o !== length) throw new SnappyError(`snappy block declares ${length} bytes but holds ${o}`);
  return out;
}

function writeVarint(out: number[], value: number): void {
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function writeLiteral(out: number[], input: Uint8Array, from: number, to: number): void {
  let at = from;
  while (at < to) {
    const len = Math.min(to - at, 65_536);
    if (len <= 60) out.push((len - 1) << 2);
    else if (len <= 256) out.push(60 << 2, len - 1);
    else out.push(61 << 2, (len - 1) & 0xff, (len - 1) >>> 8);
    for (let k = at; k < at + len; k++) out.push(input[k]!);
    at += len;
  }
}

/**
 * Compresses into one block: literals and copies found with a small hash table
 * of 4-byte sequences. Not as tight as the reference encoder, but any snappy
 * reader reads it; the tests use it to write as Prometheus does.
 */
export function snappyCompress(input: Uint8Array): Buffer {
  const out: number[] = [];
  writeVarint(out, input.length);
  const table = new Map<number, number>();
  let literalFrom = 0;
  let i = 0;
  const key = (at: number) =>
    input[at]! | (input[at + 1]! << 8) | (input[at + 2]! << 16) | (input[at + 3]! << 24);
  while (i + 4 <= input.length) {
    const k = key(i);
    const candidate = table.get(k);
    table.set(k, i);
    if (candidate === undefined || i - candidate > 65_535 || key(candidate) !== k) {
      i++;
      continue;
    }
    let len = 4;
    while (i + len < input.length && input[candidate + len] === input[i + len] && len < 64) len++;
    writeLiteral(out, input, literalFrom, i);
    const offset = i - candidate;
    out.push(((len - 1) << 2) | 2, offset & 0xff, offset >>> 8);
    i += len;
    literalFrom = i;
  }
  writeLiteral(out, input, literalFrom, input.length);
  return Buffer.from(out);
}
