// Memory and swap from /proc/meminfo: `mem` (used %: what is not available),
// its parts in bytes, `swap` (used %) and swap in bytes.
import type { Metrics } from '../../../proto/sample.ts';
import { type Reading, type SystemCollector, twoDecimals } from './collector.ts';

/** /proc/meminfo as field -> bytes (the kernel writes kB, meaning KiB). */
export function parseMeminfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const value = Number.parseInt(line.slice(colon + 1), 10);
    if (Number.isFinite(value))
      fields.set(line.slice(0, colon), line.endsWith('kB') ? value * 1024 : value);
  }
  return fields;
}

export class MemoryCollector implements SystemCollector {
  update(reading: Reading, into: Metrics): void {
    const m = parseMeminfo(reading.text('/proc/meminfo'));
    const total = m.get('MemTotal') ?? 0;
    const free = m.get('MemFree') ?? 0;
    const buffers = m.get('Buffers') ?? 0;
    const cached = m.get('Cached') ?? 0;
    // MemAvailable is the kernel's own estimate (since 3.14); before it, free + buffers + cache.
    const available = m.get('MemAvailable') ?? free + buffers + cached;
    if (total > 0) {
      into.mem = twoDecimals(((total - available) / total) * 100);
      into['mem.total_bytes'] = total;
      into['mem.used_bytes'] = total - available;
      into['mem.available_bytes'] = available;
      into['mem.free_bytes'] = free;
      into['mem.buffers_bytes'] = buffers;
      into['mem.cached_bytes'] = cached;
    }
    const swapTotal = m.get('SwapTotal') ?? 0;
    const swapUsed = swapTotal - (m.get('SwapFree') ?? 0);
    into.swap = swapTotal > 0 ? twoDecimals((swapUsed / swapTotal) * 100) : 0;
    into['swap.total_bytes'] = swapTotal;
    into['swap.used_bytes'] = swapUsed;
  }
}
