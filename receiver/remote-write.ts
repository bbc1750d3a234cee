// Prometheus remote_write 1.0's body: a snappy-compressed protobuf WriteRequest
// (prompb/remote.proto, types.proto), read field by field from the protobuf
// wire format, and written the same way (the tests send what Prometheus sends).
// Reads only the fields loadstar stores; skips the rest by their wire type.
//
//   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
//                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: epoch ms

import { LoadstarError } from '../proto/errors.ts';

export class ProtobufError extends LoadstarError {
  constructor(message: string) {
    super('bad_input', message);
  }
}

/** Prometheus' stale marker, "this series ended" (a NaN with these exact bits), as written on the wire. */
const STALE_MARKER = Buffer.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

export interface WrittenSample {
  value: number;
  timestamp: number;
  /** A stale marker rather than a value (its bits are checked on the wire: JavaScript may not keep a NaN's). */
  stale?: boolean;
}

export interface WrittenSeries {
  labels: [string, string][];
  samples: WrittenSample[];
  /** Native histogram samples: loadstar stores numbers only, so these are counted, not kept. */
  histograms: number;
}

export interface WriteRequest {
  series: WrittenSeries[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over one message's bytes. */
class Reader {
  at: number;

  constructor(
    readonly bytes: Uint8Array,
    from = 0,
    readonly end = bytes.length,
  ) {
    this.at = from;
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.at >= this.end) throw new ProtobufError('protobuf varint is cut short');
      const byte = this.bytes[this.at++]!;
      if (shift < 49) {
        value += (byte & 0x7f) * 2 ** shift;
      } else {
        // Past 49 bits only a negative int64 (ten bytes, two's complement) is expected.
        return this.bigVarint(value, byte, shift);
      }
      if (byte < 0x80) return value;
    }
    throw new ProtobufError('protobuf varint is longer than ten bytes');
  }

  private bigVarint(low: number, byte: number, shift: number): number {
    let value = BigInt(low) + (BigInt(byte & 0x7f) << BigInt(shift));
    let more = byte >= 0x80;
    while (more) {
      shift += 7;
      if (shift >= 70) throw new ProtobufError('protobuf varint is longer than ten bytes');
      if (this.at >= this.end) throw new ProtobufError('protobuf varint is cut short');
      const next = this.bytes[this.at++]!;
      value += BigInt(next & 0x7f) << BigInt(shift);
      more = next >= 0x80;
    }
    return Number(BigInt.asIntN(64, value));
  }

  double(): number {
    if (this.at + 8 > this.end) throw new ProtobufError('protobuf double is cut short');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8);
    this.at += 8;
    return view.getFloat64(0, true);
  }

  /** The bounds of a length-delimited field. */
  span(): [number, number] {
    const length = this.varint();
    const from = this.at;
    if (from + length > this.end) throw new ProtobufError('protobuf field runs past its message');
    this.at += length;
    return [from, from + length];
  }

  string(): string {
    const [from, to] = this.span();
    try {
      return utf8.decode(this.bytes.subarray(from, to));
    } catch {
      throw new ProtobufError('protobuf string is not UTF-8');
    }
  }

  sub(): Reader {
    const [from, to] = this.span();
    return new Reader(this.bytes, from, to);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.at + 8 > this.end) throw new ProtobufError('protobuf field is cut short');
        this.at += 8;
        return;
      case 2:
        this.span();
        return;
      case 5:
        if (this.at + 4 > this.end) throw new ProtobufError('protobuf field is cut short');
        this.at += 4;
        return;
      default:
        throw new ProtobufError(`protobuf wire type ${wireType} is not one remote_write uses`);
    }
  }

  /** Field number and wire type of the next field. */
  key(): [number, number] {
    const key = this.varint();
    return [Math.floor(key / 8), key % 8];
  }
}

export function decodeWriteRequest(bytes: Uint8Array): WriteRequest {
  const r = new Reader(bytes);
  const series: WrittenSeries[] = [];
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) series.push(decodeSeries(r.sub()));
    else r.skip(wire);
  }
  return { series };
}

function decodeSeries(r: Reader): WrittenSeries {
  const out: WrittenSeries = { labels: [], samples: [], histograms: 0 };
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) {
      const label = r.sub();
      let name = '';
      let value = '';
      while (!label.done) {
        const [f, w] = label.key();
        if (f === 1 && w === 2) name = label.string();
        else if (f === 2 && w === 2) value = label.string();
        else label.skip(w);
      }
      out.labels.push([name, value]);
    } else if (field === 2 && wire === 2) {
      const sample = r.sub();
      let value = 0;
      let timestamp = 0;
      let stale = false;
      while (!sample.done) {
        const [f, w] = sample.key();
        if (f === 1 && w === 1) {
          stale = STALE_MARKER.equals(sample.bytes.subarray(sample.at, sample.at + 8));
          value = sample.double();
        } else if (f === 2 && w === 0) timestamp = sample.varint();
        else sample.skip(w);
      }
      out.samples.push(stale ? { value, timestamp, stale } : { value, timestamp });
    } else if (field === 4 && wire === 2) {
      r.skip(wire);
      out.histograms++;
    } else {
      r.skip(wire);
    }
  }
  return out;
}

// ---- writing, as Prometheus does ------------------------------------------------

function varint(value: number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** A length-delimited field. */
function field(number: number, body: Buffer): Buffer {
  return Buffer.concat([varint(number * 8 + 2), varint(body.length), body]);
}

export function encodeWriteRequest(series: Omit<WrittenSeries, 'histograms'>[]): Buffer {
  return Buffer.concat(
    series.map((s) => {
      const parts: Buffer[] = s.labels.map(([name, value]) =>
        field(1, Buffer.concat([field(1, Buffer.from(name)), field(2, Buffer.from(value))])),
      );
      for (const { value, timestamp, stale } of s.samples) {
        const double = Buffer.alloc(9);
        double[0] = 0x09; // field 1, fixed64
        if (stale) STALE_MARKER.copy(double, 1);
        else double.writeDoubleLE(value, 1);
        parts.push(field(2, Buffer.concat([double, varint(2 * 8 + 0), varint(timestamp)])));
      }
      return field(1, Buffer.concat(parts));
    }),
  );
}
