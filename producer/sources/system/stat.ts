// The kernel's activity counters from /proc/stat: processes running and
// blocked on I/O, context switches, interrupts and forks per second.
import type { Metrics } from '../../../proto/sample.ts';
import { eventRate, Rates, type Reading, type SystemCollector } from './collector.ts';

/** The single-number lines of /proc/stat (ctxt, processes, procs_running…) and intr's total. */
export function parseStatCounters(stat: string): Map<string, number> {
  const counters = new Map<string, number>();
  for (const line of stat.split('\n')) {
    if (line.startsWith('cpu')) continue;
    const space = line.indexOf(' ');
    if (space < 0) continue;
    // intr is followed by one count per interrupt line: its first number is the total.
    const end = line.indexOf(' ', space + 1);
    const value = Number(line.slice(space + 1, end < 0 ? undefined : end));
    if (Number.isFinite(value)) counters.set(line.slice(0, space), value);
  }
  return counters;
}

export class StatCollector implements SystemCollector {
  private readonly rates = new Rates();

  update(reading: Reading, into: Metrics): void {
    const counters = parseStatCounters(reading.text('/proc/stat'));
    this.rates.begin(reading.seconds);
    const running = counters.get('procs_running');
    const blocked = counters.get('procs_blocked');
    if (running !== undefined) into['procs.running'] = running;
    if (blocked !== undefined) into['procs.blocked'] = blocked;
    for (const [counter, name] of [
      ['ctxt', 'context_switches_per_s'],
      ['intr', 'interrupts_per_s'],
      ['processes', 'procs.forks_per_s'],
    ] as const) {
      const value = counters.get(counter);
      const rate = value === undefined ? null : this.rates.perSecond(counter, value);
      if (rate !== null) into[name] = eventRate(rate);
    }
  }
}
