import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { parseMounts, usedPercent } from '../../producer/sources/system/filesystem.ts';
import { pageSize } from '../../producer/sources/system/vmstat.ts';
import { SystemSource } from '../../producer/sources/system.ts';
import { checkMetricName } from '../../proto/sample.ts';
import { eventually } from '../harness/eventually.ts';

/** Writes files (path -> text; a path ending in / is an empty dir) under `root`. */
function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    if (path.endsWith('/')) {
      mkdirSync(join(root, path), { recursive: true });
      continue;
    }
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const diskLine = (
  major: number,
  minor: number,
  name: string,
  c: { reads: number; readSectors: number; writes: number; writtenSectors: number; busyMs: number },
) =>
  `${String(major).padStart(4)} ${String(minor).padStart(7)} ${name} ${c.reads} 0 ${c.readSectors} 10 ${c.writes} 0 ${c.writtenSectors} 20 0 ${c.busyMs} 30 0 0 0 0 0 0`;

const netLine = (iface: string, rx: number[], tx: number[]) =>
  `${iface.padStart(6)}: ${[...rx, 0, 0, 0, 0, ...tx, 0, 0, 0, 0].join(' ')}`;

const NET_HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

/** Two readings of a small machine 5 s apart: every figure below is worked out by hand from them. */
const BEFORE: Record<string, string> = {
  '/proc/stat':
    'cpu  1000 0 500 8000 100 0 0 0 0 0\n' +
    'cpu0 500 0 250 4000 50 0 0 0 0 0\n' +
    'cpu1 500 0 250 4000 50 0 0 0 0 0\n' +
    'intr 10000 0 1 2\nctxt 50000\nbtime 1700000000\nprocesses 1000\nprocs_running 3\nprocs_blocked 1\nsoftirq 5 1 2\n',
  '/proc/meminfo':
    'MemTotal:        1000000 kB\nMemFree:          250000 kB\nMemAvailable:     700000 kB\nBuffers:           50000 kB\nCached:           300000 kB\nSwapTotal:        400000 kB\nSwapFree:         400000 kB\n',
  '/proc/vmstat': 'nr_free_pages 1\npswpin 100\npswpout 0\npgmajfault 10\n',
  '/proc/diskstats': [
    diskLine(7, 0, 'loop0', { reads: 5, readSectors: 5, writes: 0, writtenSectors: 0, busyMs: 0 }),
    diskLine(254, 0, 'vda', {
      reads: 100,
      readSectors: 1000,
      writes: 200,
      writtenSectors: 2000,
      busyMs: 1000,
    }),
    diskLine(254, 1, 'vda1', {
      reads: 90,
      readSectors: 900,
      writes: 190,
      writtenSectors: 1900,
      busyMs: 900,
    }),
    diskLine(253, 0, 'dm-0', {
      reads: 80,
      readSectors: 800,
      writes: 180,
      writtenSectors: 1800,
      busyMs: 800,
    }),
    '',
  ].join('\n'),
  '/sys/block/vda/slaves/': '',
  '/sys/block/loop0/slaves/': '',
  '/sys/block/dm-0/slaves/vda1': '',
  '/proc/net/dev': `${NET_HEADER}${netLine('lo', [5000, 50, 0, 0], [5000, 50, 0, 0])}\n${netLine('eth0', [1000, 10, 0, 0], [2000, 20, 0, 0])}\n${netLine('wlan0', [9000, 90, 0, 0], [9000, 90, 0, 0])}\n`,
  '/proc/pressure/memory':
    'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
  '/proc/pressure/io':
    'some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
  '/proc/loadavg': '0.10 0.20 0.30 1/200 100\n',
  '/proc/sys/fs/file-nr': '1000\t0\t9223372036854775807\n',
  '/proc/uptime': '3570.10 7000.00\n',
  '/proc/self/mounts': '/dev/vda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n',
};

const AFTER: Record<string, string> = {
  ...BEFORE,
  // all: +300 user, +100 system, +500 idle, +50 iowait, +50 steal = 1000 ticks.
  // cpu0: +250 user, +50 system, +150 idle, +50 iowait (500); cpu1: +50 user, +50 system, +350 idle, +50 steal (500).
  '/proc/stat':
    'cpu  1300 0 600 8500 150 0 0 50 0 0\n' +
    'cpu0 750 0 300 4150 100 0 0 0 0 0\n' +
    'cpu1 550 0 300 4350 50 0 0 50 0 0\n' +
    'intr 15000 0 1 2\nctxt 60000\nbtime 1700000000\nprocesses 1001\nprocs_running 5\nprocs_blocked 2\nsoftirq 5 1 2\n',
  '/proc/meminfo':
    'MemTotal:        1000000 kB\nMemFree:          200000 kB\nMemAvailable:     600000 kB\nBuffers:           50000 kB\nCached:           300000 kB\nSwapTotal:        400000 kB\nSwapFree:         300000 kB\n',
  '/proc/vmstat': 'nr_free_pages 1\npswpin 150\npswpout 5\npgmajfault 11\n',
  '/proc/diskstats': [
    diskLine(7, 0, 'loop0', { reads: 9, readSectors: 9, writes: 0, writtenSectors: 0, busyMs: 0 }),
    diskLine(254, 0, 'vda', {
      reads: 150,
      readSectors: 11000,
      writes: 700,
      writtenSectors: 4000,
      busyMs: 3500,
    }),
    diskLine(254, 1, 'vda1', {
      reads: 140,
      readSectors: 10900,
      writes: 690,
      writtenSectors: 3900,
      busyMs: 3400,
    }),
    diskLine(253, 0, 'dm-0', {
      reads: 90,
      readSectors: 5800,
      writes: 680,
      writtenSectors: 3800,
      busyMs: 3300,
    }),
    '',
  ].join('\n'),
  // eth0: +500,000 rx bytes, +1 rx error, +10 rx drops, +50,000 tx bytes. wlan0's counters went back (a reset).
  '/proc/net/dev': `${NET_HEADER}${netLine('lo', [9000, 90, 0, 0], [9000, 90, 0, 0])}\n${netLine('eth0', [501000, 20, 1, 10], [52000, 30, 0, 0])}\n${netLine('wlan0', [10, 1, 0, 0], [10, 1, 0, 0])}\n`,
  '/proc/pressure/memory':
    'some avg10=0.00 avg60=0.00 avg300=0.00 total=500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=100000\n',
  '/proc/pressure/io':
    'some avg10=0.00 avg60=0.00 avg300=0.00 total=1250000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
  '/proc/loadavg': '1.52 0.58 0.09 3/201 101\n',
  '/proc/sys/fs/file-nr': '1184\t0\t9223372036854775807\n',
  '/proc/uptime': '3575.10 7009.00\n',
};

describe('system source', () => {
  describe('Linux collectors on a fixture machine', () => {
    let root: string;
    let now: number;
    let source: SystemSource;
    const log = createMemoryLog();
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'loadstar-proc-'));
      writeTree(root, BEFORE);
      now = 100;
      source = new SystemSource('fixture', { platform: 'linux', root, clock: () => now, log });
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    async function secondReading() {
      await source.collect();
      writeTree(root, AFTER);
      now = 105;
      const [record] = await source.collect();
      return record!.metrics;
    }

    it('reports levels at once and no rate or cpu share before a second reading', async () => {
      const [record] = await source.collect();
      const m = record!.metrics;
      expect(record!.host).to.equal('fixture');
      expect(m.mem).to.equal(30);
      expect(m['load.1']).to.equal(0.1);
      expect(m['fd.open']).to.equal(1000);
      for (const name of ['cpu', 'cpu.core.0', 'disk.vda.reads_per_s', 'net.eth0.rx_bytes_per_s'])
        expect(m, name).to.not.have.property(name);
    });

    it('splits cpu time by state, with busy = all but idle and iowait, in total and per core', async () => {
      const m = await secondReading();
      expect(m.cpu).to.equal(45);
      expect(m['cpu.user']).to.equal(30);
      expect(m['cpu.system']).to.equal(10);
      expect(m['cpu.idle']).to.equal(50);
      expect(m['cpu.iowait']).to.equal(5);
      expect(m['cpu.steal']).to.equal(5);
      expect(m['cpu.nice']).to.equal(0);
      expect(m['cpu.core.0']).to.equal(60);
      expect(m['cpu.core.1']).to.equal(30);
    });

    it('reports memory and swap in bytes and %, and swap traffic from /proc/vmstat', async () => {
      const m = await secondReading();
      expect(m.mem).to.equal(40);
      expect(m['mem.total_bytes']).to.equal(1_024_000_000);
      expect(m['mem.available_bytes']).to.equal(614_400_000);
      expect(m['mem.used_bytes']).to.equal(409_600_000);
      expect(m['mem.free_bytes']).to.equal(204_800_000);
      expect(m['mem.cached_bytes']).to.equal(307_200_000);
      expect(m['mem.buffers_bytes']).to.equal(51_200_000);
      expect(m.swap).to.equal(25);
      expect(m['swap.used_bytes']).to.equal(102_400_000);
      // 50 and 5 pages of 4 KiB (no auxv in the fixture: the default page size) in 5 s.
      expect(m['swap.in_bytes_per_s']).to.equal(40_960);
      expect(m['swap.out_bytes_per_s']).to.equal(4_096);
      expect(m['mem.major_faults_per_s']).to.equal(0.2);
    });

    it('reports I/O per whole device, totals over physical disks only, and leaves out partitions and loop devices', async () => {
      const m = await secondReading();
      expect(m['disk.vda.reads_per_s']).to.equal(10);
      expect(m['disk.vda.writes_per_s']).to.equal(100);
      expect(m['disk.vda.read_bytes_per_s']).to.equal(1_024_000);
      expect(m['disk.vda.write_bytes_per_s']).to.equal(204_800);
      expect(m['disk.vda.busy']).to.equal(50);
      // dm-0 sits on vda1: reported itself, but not added to the totals again.
      expect(m['disk.dm-0.read_bytes_per_s']).to.equal(512_000);
      expect(m['disk.read_bytes_per_s']).to.equal(1_024_000);
      expect(m['disk.write_bytes_per_s']).to.equal(204_800);
      expect(m['disk.reads_per_s']).to.equal(10);
      expect(m['disk.writes_per_s']).to.equal(100);
      expect(Object.keys(m).filter((n) => /^disk\.(vda1|loop0)\./.test(n))).to.deep.equal([]);
    });

    it('reports traffic, errors and drops per interface but loopback, and skips a counter that went back', async () => {
      const m = await secondReading();
      expect(m['net.eth0.rx_bytes_per_s']).to.equal(100_000);
      expect(m['net.eth0.tx_bytes_per_s']).to.equal(10_000);
      expect(m['net.eth0.rx_errors_per_s']).to.equal(0.2);
      expect(m['net.eth0.rx_drops_per_s']).to.equal(2);
      expect(m['net.eth0.tx_errors_per_s']).to.equal(0);
      expect(m['net.rx_bytes_per_s']).to.equal(100_000);
      expect(m['net.rx_drops_per_s']).to.equal(2);
      expect(Object.keys(m).filter((n) => /^net\.(lo|wlan0)\./.test(n))).to.deep.equal([]);
    });

    it('reports pressure stalls as % of the interval where the kernel has them, load, fds, processes, switches, uptime', async () => {
      const m = await secondReading();
      expect(m['pressure.memory.some']).to.equal(10);
      expect(m['pressure.memory.full']).to.equal(2);
      expect(m['pressure.io.some']).to.equal(5);
      expect(m['pressure.io.full']).to.equal(0);
      expect(m).to.not.have.property('pressure.cpu.some');
      expect(m['load.1']).to.equal(1.52);
      expect(m['load.15']).to.equal(0.09);
      expect(m['fd.open']).to.equal(1184);
      expect(m['procs.running']).to.equal(5);
      expect(m['procs.blocked']).to.equal(2);
      expect(m.context_switches_per_s).to.equal(2000);
      expect(m.interrupts_per_s).to.equal(1000);
      expect(m['procs.forks_per_s']).to.equal(0.2);
      expect(m.uptime_s).to.equal(3575);
      expect(m['disk.used.root']).to.be.within(0, 100);
      expect(m.disk).to.equal(m['disk.used.root']);
    });

    it('leaves out the metrics of a collector that fails, says so once, and says when it works again', async () => {
      await source.collect();
      writeTree(root, AFTER);
      rmSync(join(root, 'proc/diskstats'));
      now = 105;
      const [first] = await source.collect();
      now = 110;
      await source.collect();
      expect(first!.metrics).to.have.property('cpu.core.0');
      expect(first!.metrics).to.have.property('net.eth0.rx_bytes_per_s');
      expect(first!.metrics).to.not.have.property('disk.vda.busy');
      const failures = log.lines.filter((l) => l.includes('collector=diskstats'));
      expect(failures).to.have.length(1);
      expect(failures[0]).to.include('ENOENT');
      writeTree(root, { '/proc/diskstats': AFTER['/proc/diskstats']! });
      now = 115;
      await source.collect();
      expect(log.lines.at(-1)).to.match(/collector works again collector=diskstats/);
    });
  });

  describe('on this machine', () => {
    it('reports cpu, per-core cpu, mem, swap, disk, load and rates from the first sample, at the precision measured', async function () {
      this.timeout(10_000);
      const source = await SystemSource.start('here');
      // Rates need some time between two readings: /proc/stat counts in 10 ms ticks.
      const m = await eventually(async () => {
        const [record] = await source.collect();
        expect(record!.metrics).to.include.keys('cpu', 'cpu.core.0');
        return record!.metrics;
      });
      for (const name of ['cpu', 'mem', 'swap', 'disk', 'cpu.core.0', 'cpu.user', 'cpu.idle'])
        expect(m[name], name).to.be.within(0, 100);
      for (const name of [
        'load.1',
        'load.5',
        'load.15',
        'net.rx_bytes_per_s',
        'disk.read_bytes_per_s',
        'mem.available_bytes',
        'mem.cached_bytes',
        'mem.buffers_bytes',
        'swap.in_bytes_per_s',
        'fd.open',
        'procs.running',
        'context_switches_per_s',
        'uptime_s',
      ])
        expect(m[name], name).to.be.at.least(0);
      const perFilesystem = Object.keys(m).filter((n) => n.startsWith('disk.used.'));
      expect(perFilesystem).to.include('disk.used.root');
      expect(m.disk).to.equal(Math.max(...perFilesystem.map((n) => m[n]!)));
      for (const [name, value] of Object.entries(m)) {
        expect(() => checkMetricName(name)).to.not.throw();
        // Two decimals at most; bytes whole.
        expect(Math.round(value * 100) / 100, name).to.equal(value);
        if (name.includes('bytes')) expect(Number.isInteger(value), name).to.equal(true);
      }
    });

    it('reads the page size from the auxiliary vector', () => {
      expect([4096, 16384, 65536]).to.include(pageSize());
    });
  });

  describe('other platforms (systeminformation)', () => {
    it('reports cpu, mem, swap, disk and load through systeminformation', async function () {
      this.timeout(15_000);
      const source = new SystemSource('elsewhere', { platform: 'darwin' });
      const [record] = await source.collect();
      const m = record!.metrics;
      for (const name of ['cpu', 'mem', 'swap', 'disk', 'cpu.core.0'])
        expect(m[name], name).to.be.within(0, 100);
      expect(m['load.1']).to.be.at.least(0);
      expect(m['mem.available_bytes']).to.be.greaterThan(0);
    });
  });

  describe('filesystems', () => {
    it('reads only real filesystems from /proc/self/mounts and decodes escaped paths', () => {
      const mounts = parseMounts(
        [
          '/dev/vda / ext4 rw 0 0',
          'proc /proc proc rw 0 0',
          'tmpfs /run tmpfs rw 0 0',
          '/dev/vdb /srv/my\\040data xfs rw 0 0',
          'overlay /var/lib/docker/x overlay rw 0 0',
          '/dev/vda / ext4 rw 0 0',
        ].join('\n'),
      );
      expect(mounts).to.deep.equal([
        { path: '/', type: 'ext4' },
        { path: '/srv/my data', type: 'xfs' },
      ]);
    });

    it('computes used % as df does', () => {
      expect(usedPercent(100, 40, 30)).to.be.closeTo((60 / 90) * 100, 1e-9);
      expect(usedPercent(0, 0, 0)).to.equal(null);
    });
  });
});
