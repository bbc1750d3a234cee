// cpu from /proc/stat: `cpu` (busy % of all cores), its split by state
// (`cpu.user`, `cpu.system`, `cpu.iowait`, `cpu.steal`…) and `cpu.core.<n>`.
// Busy is everything but idle and iowait: a cpu waiting for I/O could run other work.
import type { Metrics } from '../../../proto/sample.ts';
import { type Reading, type SystemCollector, twoDecimals } from './collector.ts';

/**
 * The first eight columns of a cpu line, in the kernel's order. guest and
 * guest_nice (columns 9 and 10) are already counted in user and nice.
 */
export const CPU_STATES = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
] as const;
const IDLE = 3;
const IOWAIT = 4;

/** The cpu lines of /proc/stat: `cpu` (all cores) and `cpu<n>`, each its ticks per state. */
export function parseCpuTimes(stat: string): Map<string, number[]> {
  const times = new Map<string, number[]>();
  for (const line of stat.split('\n')) {
    if (!line.startsWith('cpu')) {
      if (times.size > 0) break; // the cpu lines come first
      continue;
    }
    const fields = line.split(/\s+/);
    const ticks = CPU_STATES.map((_, i) => Number(fields[i + 1] ?? 0));
    if (ticks.every(Number.isFinite)) times.set(fields[0]!, ticks);
  }
  return times;
}

/** Busy % and % per state between two readings of one cpu line; null when no time passed. */
export function cpuShares(
  before: readonly number[],
  after: readonly number[],
): { busy: number; states: number[] } | null {
  // A counter that went back (iowait does, on some kernels) counts as no time.
  const spent = after.map((ticks, i) => Math.max(0, ticks - (before[i] ?? 0)));
  const total = spent.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  return {
    busy: ((total - spent[IDLE]! - spent[IOWAIT]!) / total) * 100,
    states: spent.map((ticks) => (ticks / total) * 100),
  };
}

export class CpuCollector implements SystemCollector {
  private before = new Map<string, number[]>();

  update(reading: Reading, into: Metrics): void {
    const now = parseCpuTimes(reading.text('/proc/stat'));
    for (const [name, ticks] of now) {
      const before = this.before.get(name);
      const shares = before ? cpuShares(before, ticks) : null;
      if (!shares) continue;
      if (name === 'cpu') {
        into.cpu = twoDecimals(shares.busy);
        CPU_STATES.forEach((state, i) => {
          into[`cpu.${state}`] = twoDecimals(shares.states[i]!);
        });
      } else {
        into[`cpu.core.${name.slice(3)}`] = twoDecimals(shares.busy);
      }
    }
    this.before = now;
  }
}
