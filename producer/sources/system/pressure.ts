// Pressure stall information from /proc/pressure/{cpu,memory,io} (Linux 4.20+,
// when the kernel has PSI on): the % of the interval in which some tasks (`some`)
// or all tasks (`full`) stalled waiting for the resource — `pressure.cpu.some`,
// `pressure.memory.some`, `pressure.memory.full`, `pressure.io.some`,
// `pressure.io.full`. From the `total` counters, so the figure covers exactly the
// interval (avg10 would cover the last 10 s, whatever the interval).
import type { Metrics } from '../../../proto/sample.ts';
import { Rates, type Reading, type SystemCollector, twoDecimals } from './collector.ts';

/** cpu's `full` is undefined at the system level (the kernel prints zeros). */
const RESOURCES = [
  ['cpu', ['some']],
  ['memory', ['some', 'full']],
  ['io', ['some', 'full']],
] as const;

/** The `total=` stall times of a pressure file, microseconds per kind (some, full). */
export function parsePressure(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    const total = /^(some|full) .*total=(\d+)/.exec(line);
    if (total) totals.set(total[1]!, Number(total[2]));
  }
  return totals;
}

export class PressureCollector implements SystemCollector {
  private readonly rates = new Rates();
  /** Resources this kernel does not report: not asked again. */
  private readonly missing = new Set<string>();

  update(reading: Reading, into: Metrics): void {
    this.rates.begin(reading.seconds);
    for (const [resource, kinds] of RESOURCES) {
      if (this.missing.has(resource)) continue;
      let totals: Map<string, number>;
      try {
        totals = parsePressure(reading.text(`/proc/pressure/${resource}`));
      } catch (err) {
        // ENOENT: no PSI in this kernel; EOPNOTSUPP: built in but off (psi=0).
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EOPNOTSUPP') {
          this.missing.add(resource);
          continue;
        }
        throw err;
      }
      for (const kind of kinds) {
        const total = totals.get(kind);
        const stalledUs = total === undefined ? null : this.rates.perSecond(resource + kind, total);
        // Microseconds stalled per second, as a % of that second.
        if (stalledUs !== null)
          into[`pressure.${resource}.${kind}`] = twoDecimals(Math.min(100, stalledUs / 10_000));
      }
    }
  }
}
