// Load average from /proc/loadavg: `load.1`, `load.5`, `load.15`.
import type { Metrics } from '../../../proto/sample.ts';
import type { Reading, SystemCollector } from './collector.ts';

export class LoadavgCollector implements SystemCollector {
  update(reading: Reading, into: Metrics): void {
    const [l1, l5, l15] = reading.text('/proc/loadavg').split(' ').map(Number);
    // The kernel writes two decimals already.
    if (Number.isFinite(l1) && Number.isFinite(l5) && Number.isFinite(l15)) {
      into['load.1'] = l1!;
      into['load.5'] = l5!;
      into['load.15'] = l15!;
    }
  }
}
