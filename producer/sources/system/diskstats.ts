// Disk I/O from /proc/diskstats, per device (`disk.<dev>.reads_per_s`,
// `…writes_per_s`, `…read_bytes_per_s`, `…write_bytes_per_s`, `…busy` %) and
// for all physical disks together (`disk.read_bytes_per_s`…). Partitions are
// left out (their disk counts them), and so are loop and ram devices; the
// totals leave out devices built on others (LVM, md RAID), or I/O would count twice.
import { readdirSync } from 'node:fs';
import type { Metrics } from '../../../proto/sample.ts';
import { nameToken } from '../source.ts';
import {
  eventRate,
  Rates,
  type Reading,
  type SystemCollector,
  twoDecimals,
  whole,
} from './collector.ts';

/** /proc/diskstats counts sectors of 512 bytes whatever the device's own sector size. */
const SECTOR_BYTES = 512;
const IGNORED = /^(loop|ram|zram|fd)\d+$/;
/** Partitions by name, for machines without /sys (node_exporter's default pattern). */
const PARTITION = /^((h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$/;

export interface DiskCounters {
  device: string;
  reads: number;
  readSectors: number;
  writes: number;
  writtenSectors: number;
  /** Milliseconds during which the device had I/O in flight. */
  busyMs: number;
}

export function parseDiskstats(text: string): DiskCounters[] {
  const disks: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    disks.push({
      device: f[2]!,
      reads: Number(f[3]),
      readSectors: Number(f[5]),
      writes: Number(f[7]),
      writtenSectors: Number(f[9]),
      busyMs: Number(f[12]),
    });
  }
  return disks;
}

interface Layout {
  /** Whole devices worth reporting. */
  reported: Set<string>;
  /** Of those, the ones not built on other devices: what the totals add up. */
  physical: Set<string>;
}

export class DiskstatsCollector implements SystemCollector {
  private readonly rates = new Rates();
  private layout: Layout = { reported: new Set(), physical: new Set() };
  private layoutOf = '';

  update(reading: Reading, into: Metrics): void {
    const disks = parseDiskstats(reading.text('/proc/diskstats'));
    // Which devices are whole and physical changes only when devices come or go.
    const names = disks.map((d) => d.device).join(' ');
    if (names !== this.layoutOf) {
      this.layout = readLayout(reading.root, disks);
      this.layoutOf = names;
    }
    this.rates.begin(reading.seconds);
    const totals = { reads: 0, writes: 0, readBytes: 0, writeBytes: 0, devices: 0 };
    for (const d of disks) {
      if (!this.layout.reported.has(d.device)) continue;
      const rate = (what: string, counter: number) =>
        this.rates.perSecond(`${d.device} ${what}`, counter);
      const reads = rate('reads', d.reads);
      const writes = rate('writes', d.writes);
      const readBytes = rate('read', d.readSectors * SECTOR_BYTES);
      const writeBytes = rate('written', d.writtenSectors * SECTOR_BYTES);
      const busyMs = rate('busy', d.busyMs);
      if (reads === null || writes === null || readBytes === null || writeBytes === null) continue;
      const prefix = `disk.${nameToken(d.device)}`;
      into[`${prefix}.reads_per_s`] = eventRate(reads);
      into[`${prefix}.writes_per_s`] = eventRate(writes);
      into[`${prefix}.read_bytes_per_s`] = whole(readBytes);
      into[`${prefix}.write_bytes_per_s`] = whole(writeBytes);
      if (busyMs !== null) into[`${prefix}.busy`] = twoDecimals(Math.min(100, busyMs / 10));
      if (this.layout.physical.has(d.device)) {
        totals.reads += reads;
        totals.writes += writes;
        totals.readBytes += readBytes;
        totals.writeBytes += writeBytes;
        totals.devices++;
      }
    }
    if (totals.devices > 0) {
      into['disk.reads_per_s'] = eventRate(totals.reads);
      into['disk.writes_per_s'] = eventRate(totals.writes);
      into['disk.read_bytes_per_s'] = whole(totals.readBytes);
      into['disk.write_bytes_per_s'] = whole(totals.writeBytes);
    }
  }
}

/** Whole devices are those in /sys/block; physical ones have nothing in their `slaves`. */
function readLayout(root: string, disks: readonly DiskCounters[]): Layout {
  const reported = new Set<string>();
  const physical = new Set<string>();
  let whole: Set<string> | null = null;
  try {
    whole = new Set(readdirSync(`${root}/sys/block`));
  } catch {
    // No /sys (some containers): recognise partitions by name instead.
  }
  for (const { device } of disks) {
    if (IGNORED.test(device)) continue;
    if (whole ? !whole.has(device) : PARTITION.test(device)) continue;
    reported.add(device);
    let builtOn = 0;
    try {
      builtOn = readdirSync(`${root}/sys/block/${device}/slaves`).length;
    } catch {
      builtOn = /^(dm-|md)\d+/.test(device) ? 1 : 0;
    }
    if (builtOn === 0) physical.add(device);
  }
  return { reported, physical };
}
