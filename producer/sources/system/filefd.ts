// Open file descriptors of the whole system, from /proc/sys/fs/file-nr: `fd.open`.
import type { Metrics } from '../../../proto/sample.ts';
import type { Reading, SystemCollector } from './collector.ts';

export class FilefdCollector implements SystemCollector {
  update(reading: Reading, into: Metrics): void {
    // "allocated unused max"; unused has been 0 since Linux 2.6.
    const [allocated, unused] = reading.text('/proc/sys/fs/file-nr').split(/\s+/).map(Number);
    if (Number.isFinite(allocated) && Number.isFinite(unused))
      into['fd.open'] = allocated! - unused!;
  }
}
