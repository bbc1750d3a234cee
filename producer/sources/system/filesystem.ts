// Filesystem usage with statfs(2) on every real mount of /proc/self/mounts:
// `disk.used.<mount>` (used %, as df counts it) and `disk` (the fullest). A
// mount whose statfs hangs (a dead NFS server) is skipped, not waited for, and
// not asked again until that call returns: it must never stall the collection.
import { statfs } from 'node:fs/promises';
import type { Metrics } from '../../../proto/sample.ts';
import { nameToken } from '../source.ts';
import { type Reading, type SystemCollector, twoDecimals } from './collector.ts';

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

/** How long one statfs may take before its mount is skipped for this collection. */
const STATFS_WAIT_MS = 500;

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

/** Adds `disk.used.<mount>` per filesystem and `disk`, the fullest: the one to act on first. */
export function addDiskUsage(usage: ReadonlyMap<string, number>, into: Metrics): void {
  let fullest = -1;
  for (const [mount, pct] of usage) {
    into[`disk.used.${nameToken(mount)}`] = twoDecimals(pct);
    fullest = Math.max(fullest, pct);
  }
  if (fullest >= 0) into.disk = twoDecimals(fullest);
}

export class FilesystemCollector implements SystemCollector {
  /** Mounts whose statfs has not returned yet. */
  private readonly hanging = new Set<string>();

  async update(reading: Reading, into: Metrics): Promise<void> {
    const mounts = parseMounts(reading.text('/proc/self/mounts'));
    const usage = new Map<string, number>();
    await Promise.all(
      mounts.map(async ({ path }) => {
        if (this.hanging.has(path)) return;
        this.hanging.add(path);
        const asked = statfs(path)
          .then((s) => usedPercent(s.blocks, s.bfree, s.bavail))
          .catch(() => null)
          .finally(() => this.hanging.delete(path));
        let timer: NodeJS.Timeout | undefined;
        const pct = await Promise.race([
          asked,
          new Promise<null>((resolve) => {
            timer = setTimeout(() => resolve(null), STATFS_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (pct !== null) usage.set(path, pct);
      }),
    );
    // Keep the order of the mounts file, whatever order the answers came in.
    const ordered = new Map<string, number>();
    for (const { path } of mounts) {
      const pct = usage.get(path);
      if (pct !== undefined) ordered.set(path, pct);
    }
    addDiskUsage(ordered, into);
  }
}
