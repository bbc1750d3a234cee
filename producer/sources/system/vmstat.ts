// Paging from /proc/vmstat: swap in and out in bytes per second, and major page
// faults (a page read from disk) per second.
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Metrics } from '../../../proto/sample.ts';
import { eventRate, Rates, type Reading, type SystemCollector, whole } from './collector.ts';

const AT_PAGESZ = 6;

/**
 * The page size, from the auxiliary vector the kernel gave this process (Node
 * has no API for it, and `getconf` would be a process). 4 KiB if unreadable.
 */
export function pageSize(root = ''): number {
  try {
    const auxv = readFileSync(`${root}/proc/self/auxv`);
    const word = process.arch.endsWith('64') ? 8 : 4;
    const le = endianness() === 'LE';
    const read = (offset: number) =>
      word === 8
        ? Number(le ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset))
        : le
          ? auxv.readUInt32LE(offset)
          : auxv.readUInt32BE(offset);
    for (let at = 0; at + 2 * word <= auxv.length; at += 2 * word) {
      const type = read(at);
      if (type === 0) break;
      if (type === AT_PAGESZ) return read(at + word);
    }
  } catch {
    // fall through
  }
  return 4096;
}

/** /proc/vmstat as counter -> value. */
export function parseVmstat(text: string): Map<string, number> {
  const counters = new Map<string, number>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) counters.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return counters;
}

export class VmstatCollector implements SystemCollector {
  private readonly rates = new Rates();

  constructor(private readonly pageBytes: number) {}

  update(reading: Reading, into: Metrics): void {
    const counters = parseVmstat(reading.text('/proc/vmstat'));
    this.rates.begin(reading.seconds);
    const rate = (counter: string) => {
      const value = counters.get(counter);
      return value === undefined || !Number.isFinite(value)
        ? null
        : this.rates.perSecond(counter, value);
    };
    const swapIn = rate('pswpin');
    const swapOut = rate('pswpout');
    const majorFaults = rate('pgmajfault');
    if (swapIn !== null) into['swap.in_bytes_per_s'] = whole(swapIn * this.pageBytes);
    if (swapOut !== null) into['swap.out_bytes_per_s'] = whole(swapOut * this.pageBytes);
    if (majorFaults !== null) into['mem.major_faults_per_s'] = eventRate(majorFaults);
  }
}
