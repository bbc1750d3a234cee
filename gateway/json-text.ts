// Writes a large JSON answer (tens of thousands of history points) straight into
// a buffer. Concatenating that many small strings costs more in garbage
// collection than the numbers cost to print; bytes written in place do not.
// Numbers are written as JSON floats where they are values (1 -> 1.0), as the
// contract asks.
import { renderFloat } from '../proto/float.ts';

const COMMA = 0x2c;
const DOT = 0x2e;
const MINUS = 0x2d;
const ZERO = 0x30;
/** Below this a whole number prints in int32 arithmetic. */
const SMALL = 2 ** 31;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
/** "00" to "99": two digits per division. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) =>
  i % 2 === 0 ? ZERO + Math.floor(i / 20) : ZERO + (((i - 1) / 2) % 10),
);

/** How many digits a whole number below 2^31 has. */
function digitsOf(n: number): number {
  let places = 1;
  while (places < 10 && n >= POW10[places]!) places++;
  return places;
}

export class JsonText {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private at = 0;

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** Text as it is (already JSON). */
  text(text: string): this {
    this.room(text.length * 3);
    this.at += this.buf.write(text, this.at);
    return this;
  }

  comma(): this {
    return this.byte(COMMA);
  }

  /** `[`, as a row of points starts. */
  open(): this {
    return this.byte(0x5b);
  }

  /** `]` */
  close(): this {
    return this.byte(0x5d);
  }

  private byte(b: number): this {
    this.room(1);
    this.buf[this.at++] = b;
    return this;
  }

  /** A whole number (a time, a count), without a fraction. */
  integer(n: number): this {
    this.room(24);
    if (n < 0) {
      this.buf[this.at++] = MINUS;
      n = -n;
    }
    if (n < SMALL) return this.small(n);
    // A time in ms has 13 digits: two small halves print with integer arithmetic.
    const high = Math.floor(n / 1e9);
    this.integer(high);
    this.padded(n - high * 1e9, 9);
    return this;
  }

  /** A whole number below 2^31, in int32 arithmetic. */
  private small(n: number): this {
    this.padded(n, digitsOf(n));
    return this;
  }

  /** A whole number below 2^31 in exactly `places` digits, leading zeros included. */
  private padded(n: number, places: number): void {
    let i = this.at + places;
    while (i - this.at >= 2) {
      const q = (n / 100) | 0;
      const pair = (n - q * 100) * 2;
      this.buf[--i] = PAIRS[pair + 1]!;
      this.buf[--i] = PAIRS[pair]!;
      n = q;
    }
    if (i > this.at) this.buf[this.at] = ZERO + n;
    this.at += places;
  }

  /** A value as a JSON float. */
  float(value: number): this {
    if (Number.isInteger(value) && Math.abs(value) < 2 ** 53 && !Object.is(value, -0)) {
      this.integer(value);
      this.room(2);
      this.buf[this.at++] = DOT;
      this.buf[this.at++] = ZERO;
      return this;
    }
    return this.ascii(renderFloat(value));
  }

  /** A short ASCII text (a number's): copied by hand, cheaper than a call into Buffer.write. */
  private ascii(text: string): this {
    this.room(text.length);
    for (let i = 0; i < text.length; i++) this.buf[this.at++] = text.charCodeAt(i);
    return this;
  }

  /**
   * A value known to be a decimal of `scale` decimals (a stored min or max):
   * written from its integer mantissa, which is cheaper than printing a double
   * and parses back to the same double.
   */
  decimal(value: number, scale: number): this {
    if (scale === 0 || Number.isInteger(value)) return this.float(value);
    const d = POW10[scale]!;
    const mantissa = Math.round(Math.abs(value) * d);
    const whole = Math.floor(mantissa / d);
    let fraction = mantissa - whole * d;
    // Not a decimal of `scale` after all (it rounds to a whole number): print it as any double.
    if (fraction === 0) return this.float(value);
    this.room(scale + 26);
    if (value < 0) this.buf[this.at++] = MINUS;
    let places = scale;
    if (fraction < SMALL) {
      // The common case (a percentage's two decimals): int32 arithmetic throughout.
      for (let q = (fraction / 10) | 0; fraction === q * 10; q = (fraction / 10) | 0) {
        fraction = q;
        places--;
      }
      this.integer(whole);
      this.buf[this.at++] = DOT;
      this.padded(fraction, places);
      return this;
    }
    while (fraction % 10 === 0) {
      fraction /= 10;
      places--;
    }
    this.integer(whole);
    this.buf[this.at++] = DOT;
    for (let i = places - 1; i >= 0; i--) {
      const q = Math.floor(fraction / 10);
      this.buf[this.at + i] = ZERO + (fraction - q * 10);
      fraction = q;
    }
    this.at += places;
    return this;
  }

  /** How many bytes are written so far: a mark for `again`. */
  get length(): number {
    return this.at;
  }

  /** The bytes between two marks, once more (a number already printed). */
  again(start: number, end: number): this {
    this.room(end - start);
    // A number's few bytes: a loop costs less than a call into copyWithin.
    for (let i = start; i < end; i++) this.buf[this.at++] = this.buf[i]!;
    return this;
  }

  /** What was written; valid until the next write. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}
