// Seconds since boot, from /proc/uptime: `uptime_s`. A drop is a reboot.
import type { Metrics } from '../../../proto/sample.ts';
import type { Reading, SystemCollector } from './collector.ts';

export class UptimeCollector implements SystemCollector {
  update(reading: Reading, into: Metrics): void {
    const seconds = Number(reading.text('/proc/uptime').split(' ')[0]);
    if (Number.isFinite(seconds)) into.uptime_s = Math.floor(seconds);
  }
}
