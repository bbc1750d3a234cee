// The one interface of every reader of this machine's state on Linux (after
// node_exporter's Collector): each reads /proc or /sys directly and adds its
// metrics. A collector never starts a process: reading a file is all it may do.
import { readFileSync } from 'node:fs';
import type { Metrics } from '../../../proto/sample.ts';

/** One collection: the time it happened and the files it read, each read once. */
export class Reading {
  private readonly texts = new Map<string, string>();

  /**
   * @param root prefix of every path (tests point it at a fixture tree)
   * @param seconds a monotonic clock, for rates
   */
  constructor(
    readonly root: string,
    readonly seconds: number,
  ) {}

  /**
   * The text of a /proc or /sys file. Read synchronously: these files live in
   * memory, and a synchronous read costs a few microseconds where an async one
   * takes a thread-pool round trip (which the agent's CPU budget notices).
   */
  text(path: string): string {
    let text = this.texts.get(path);
    if (text === undefined) {
      text = readFileSync(this.root + path, 'latin1');
      this.texts.set(path, text);
    }
    return text;
  }
}

export interface SystemCollector {
  /** Adds this collector's metrics to `into`; throws when its files cannot be read. */
  update(reading: Reading, into: Metrics): void | Promise<void>;
}

/** Per-second rates of counters between two collections; the first collection has none. */
export class Rates {
  private before = new Map<string, number>();
  private beforeSeconds = Number.NaN;
  private now = new Map<string, number>();
  private elapsed = Number.NaN;

  /** Starts a collection: the counters recorded in the previous one become the baseline. */
  begin(seconds: number): void {
    this.before = this.now;
    this.now = new Map();
    this.elapsed = seconds - this.beforeSeconds;
    this.beforeSeconds = seconds;
  }

  /**
   * Records `counter` under `key` and returns its increase per second since the
   * previous collection, or null: on the first collection, and when the counter
   * went back (a reset, a 32-bit wrap, a device that came back) rather than
   * report a huge bogus value.
   */
  perSecond(key: string, counter: number): number | null {
    const increase = this.increase(key, counter);
    return increase === null ? null : increase / this.elapsed;
  }

  /** The counter's increase since the previous collection (null as for perSecond). */
  increase(key: string, counter: number): number | null {
    this.now.set(key, counter);
    const previous = this.before.get(key);
    if (previous === undefined || !(this.elapsed > 0) || counter < previous) return null;
    return counter - previous;
  }

  /** Seconds since the previous collection (NaN on the first). */
  get seconds(): number {
    return this.elapsed;
  }
}

// Values at the precision the measurement has: the store keeps short decimals
// far smaller than 17 digits, and more digits would claim what is not measured.

/** Percentages and load averages: two decimals. */
export function twoDecimals(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Bytes, byte rates and counts: whole numbers. */
export function whole(value: number): number {
  return Math.round(value);
}

/**
 * Events per second (errors, context switches): two decimals, so that one event
 * in a 5 s interval (0.2/s) is not rounded away; whole numbers from 100 on.
 */
export function eventRate(value: number): number {
  return value >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}
