// This machine on platforms other than Linux, through systeminformation: cpu
// (total and per core), memory, swap, disk usage and throughput, network, load.
// Loaded only there (system.ts imports it on demand): on Linux the collectors
// read /proc themselves, and systeminformation starts programs for some of this.
import { loadavg } from 'node:os';
import si from 'systeminformation';
import type { Metrics } from '../../../proto/sample.ts';
import { nameToken } from '../source.ts';
import { twoDecimals, whole } from './collector.ts';
import { addDiskUsage } from './filesystem.ts';

export async function collectFallback(): Promise<Metrics> {
  const [load, mem, fsSize, fsStats, net] = await Promise.all([
    si.currentLoad(),
    si.mem(),
    si.fsSize().catch(() => []),
    si.fsStats().catch(() => null),
    si.networkStats('*').catch(() => []),
  ]);
  const metrics: Metrics = {};
  metrics.cpu = twoDecimals(load.currentLoad);
  load.cpus.forEach((core, i) => {
    metrics[`cpu.core.${i}`] = twoDecimals(core.load);
  });
  if (mem.total > 0) {
    metrics.mem = twoDecimals(((mem.total - mem.available) / mem.total) * 100);
    metrics['mem.total_bytes'] = mem.total;
    metrics['mem.used_bytes'] = mem.total - mem.available;
    metrics['mem.available_bytes'] = mem.available;
    metrics['mem.free_bytes'] = mem.free;
  }
  metrics.swap = mem.swaptotal > 0 ? twoDecimals((mem.swapused / mem.swaptotal) * 100) : 0;
  addDiskUsage(new Map(fsSize.map((fs) => [fs.mount, fs.use])), metrics);
  // The first reading of a rate has nothing to compare with: systeminformation gives null.
  if (fsStats && typeof fsStats.rx_sec === 'number' && typeof fsStats.wx_sec === 'number') {
    metrics['disk.read_bytes_per_s'] = whole(Math.max(0, fsStats.rx_sec));
    metrics['disk.write_bytes_per_s'] = whole(Math.max(0, fsStats.wx_sec));
  }
  let rx = 0;
  let tx = 0;
  let rates = 0;
  for (const iface of net) {
    if (
      iface.iface === 'lo' ||
      iface.iface === 'lo0' ||
      typeof iface.rx_sec !== 'number' ||
      typeof iface.tx_sec !== 'number'
    )
      continue;
    const name = nameToken(iface.iface);
    metrics[`net.${name}.rx_bytes_per_s`] = whole(Math.max(0, iface.rx_sec));
    metrics[`net.${name}.tx_bytes_per_s`] = whole(Math.max(0, iface.tx_sec));
    rx += Math.max(0, iface.rx_sec);
    tx += Math.max(0, iface.tx_sec);
    rates++;
  }
  if (rates > 0) {
    metrics['net.rx_bytes_per_s'] = whole(rx);
    metrics['net.tx_bytes_per_s'] = whole(tx);
  }
  const [l1, l5, l15] = loadavg();
  metrics['load.1'] = twoDecimals(l1!);
  metrics['load.5'] = twoDecimals(l5!);
  metrics['load.15'] = twoDecimals(l15!);
  for (const [name, value] of Object.entries(metrics)) {
    if (!Number.isFinite(value)) delete metrics[name];
  }
  return metrics;
}
