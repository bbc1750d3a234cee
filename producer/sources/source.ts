// The one interface every source implements: collect() returns partial records
// (some metrics of some hosts); the producer merges what all sources reported
// for the same host within one interval into one sample.
import type { Metrics } from '../../proto/sample.ts';

export interface PartialRecord {
  host: string;
  metrics: Metrics;
}

export interface Source {
  /** Shown in logs and counters. */
  readonly name: string;
  /** Collects once; rejects (or the signal aborts it) when the source fails or is slow. */
  collect(signal: AbortSignal): Promise<PartialRecord[]>;
  close?(): void;
}

/** Makes a mount point or interface name fit a metric name: `/var/lib` -> `var_lib`, `/` -> `root`. */
export function nameToken(text: string): string {
  const token = text
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9_.:-]+/g, '_')
    .slice(0, 60);
  return token === '' ? 'root' : token;
}
