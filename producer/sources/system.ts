// The local machine, read with systeminformation: cpu (total and per core),
// memory, swap, disk usage per filesystem, disk and network throughput, load
// average. Filesystem usage comes from statfs(2) on Linux, because
// systeminformation's fsSize() spawns `df` on every call.
import { readFile, statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import si from 'systeminformation';
import type { Metrics } from '../../proto/sample.ts';
import { nameToken, type PartialRecord, type Source } from './source.ts';

/** Filesystems that hold data; pseudo and in-memory ones would only add noise. */
const PSEUDO_FS = new Set([
  'autofs',
  'binfmt_misc',
  'bpf',
  'cgroup',
  'cgroup2',
  'configfs',
  'debugfs',
  'devpts',
  'devtmpfs',
  'efivarfs',
  'fusectl',
  'hugetlbfs',
  'mqueue',
  'nsfs',
  'overlay',
  'proc',
  'pstore',
  'ramfs',
  'rpc_pipefs',
  'securityfs',
  'selinuxfs',
  'squashfs',
  'sysfs',
  'tmpfs',
  'tracefs',
  'fuse.lxcfs',
  'fuse.gvfsd-fuse',
  'fuse.portal',
  'nfsd',
  'iso9660',
]);

interface Mount {
  path: string;
  type: string;
}

/** Real filesystems from /proc/self/mounts, each mount point once. */
export function parseMounts(text: string): Mount[] {
  const seen = new Set<string>();
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [device, rawPath, type] = line.split(' ');
    if (!device || !rawPath || !type || PSEUDO_FS.has(type)) continue;
    const path = rawPath.replace(/\\(\d{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (seen.has(path)) continue;
    seen.add(path);
    mounts.push({ path, type });
  }
  return mounts;
}

/** Used % as df reports it: used / (used + available to unprivileged users). */
export function usedPercent(blocks: number, free: number, available: number): number | null {
  const used = blocks - free;
  const total = used + available;
  return total > 0 ? (used / total) * 100 : null;
}

async function diskUsage(): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  if (process.platform === 'linux') {
    const mounts = parseMounts(await readFile('/proc/self/mounts', 'utf8'));
    await Promise.all(
      mounts.map(async (m) => {
        const s = await statfs(m.path).catch(() => null);
        const pct = s ? usedPercent(s.blocks, s.bfree, s.bavail) : null;
        if (pct !== null) usage.set(m.path, pct);
      }),
    );
  } else {
    for (const fs of await si.fsSize()) usage.set(fs.mount, fs.use);
  }
  return usage;
}

export class SystemSource implements Source {
  readonly name = 'system';

  constructor(private readonly host: string) {}

  async collect(): Promise<PartialRecord[]> {
    const [load, mem, disks, fsStats, net] = await Promise.all([
      si.currentLoad(),
      si.mem(),
      diskUsage(),
      si.fsStats().catch(() => null),
      si.networkStats('*').catch(() => []),
    ]);
    const metrics: Metrics = {};
    metrics.cpu = load.currentLoad;
    load.cpus.forEach((core, i) => {
      metrics[`cpu.core.${i}`] = core.load;
    });
    if (mem.total > 0) metrics.mem = ((mem.total - mem.available) / mem.total) * 100;
    metrics.swap = mem.swaptotal > 0 ? (mem.swapused / mem.swaptotal) * 100 : 0;

    let fullest = -1;
    for (const [mount, pct] of disks) {
      metrics[`disk.used.${nameToken(mount)}`] = pct;
      fullest = Math.max(fullest, pct);
    }
    // `disk` is the fullest filesystem: the one an operator must act on first.
    if (fullest >= 0) metrics.disk = fullest;
    // The first reading of a rate has nothing to compare with: systeminformation gives null.
    if (fsStats && typeof fsStats.rx_sec === 'number' && typeof fsStats.wx_sec === 'number') {
      metrics['disk.read_bytes_per_s'] = Math.max(0, fsStats.rx_sec);
      metrics['disk.write_bytes_per_s'] = Math.max(0, fsStats.wx_sec);
    }
    let rx = 0;
    let tx = 0;
    let rates = 0;
    for (const iface of net) {
      if (
        iface.iface === 'lo' ||
        typeof iface.rx_sec !== 'number' ||
        typeof iface.tx_sec !== 'number'
      )
        continue;
      const name = nameToken(iface.iface);
      metrics[`net.${name}.rx_bytes_per_s`] = Math.max(0, iface.rx_sec);
      metrics[`net.${name}.tx_bytes_per_s`] = Math.max(0, iface.tx_sec);
      rx += Math.max(0, iface.rx_sec);
      tx += Math.max(0, iface.tx_sec);
      rates++;
    }
    if (rates > 0) {
      metrics['net.rx_bytes_per_s'] = rx;
      metrics['net.tx_bytes_per_s'] = tx;
    }
    const [l1, l5, l15] = loadavg();
    metrics['load.1'] = l1!;
    metrics['load.5'] = l5!;
    metrics['load.15'] = l15!;
    for (const [name, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) delete metrics[name];
    }
    return [{ host: this.host, metrics }];
  }
}
