// The one interface every source implements: collect() returns partial records
// (some metrics of some hosts); the producer merges what all sources reported
// for the same host within one interval into one sample (collect.ts, nowhere else).
// A remote source type (polled from the sources file) is added in one place:
// SOURCE_TYPES in file.ts.
import type { Metrics } from '../../proto/sample.ts';

export interface PartialRecord {
  host: string;
  metrics: Metrics;
}

export interface Source {
  /** Shown in logs and counters. */
  readonly name: string;
  /**
   * Seconds that must pass between two polls of this source; it is polled only
   * on collection ticks, so this rounds up to whole INTERVALs. Unset: every tick.
   */
  readonly intervalSeconds?: number;
  /** Longest one collect() may take; unset: the agent's SOURCE_TIMEOUT. */
  readonly timeoutMs?: number;
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

/**
 * Makes a name a remote source reports (an address, a label value) fit host
 * names: `10.0.0.5:9100` stays as is, `web 01` becomes `web_01`. Empty stays
 * empty, so the merge refuses it as a host rather than inventing one.
 */
export function fitHost(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 253);
}
