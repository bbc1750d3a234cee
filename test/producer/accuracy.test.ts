import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { expect } from 'chai';
import { SystemSource } from '../../producer/sources/system.ts';
import { eventually } from '../harness/eventually.ts';
import { childPids } from '../harness/processes.ts';

/** /proc/stat's cpu lines read here, independently of the agent's parser: name -> [busy, all] ticks. */
function procStat(): Map<string, [number, number]> {
  const cpus = new Map<string, [number, number]>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!/^cpu\d* /.test(line)) continue;
    const [name, user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/);
    const busy = [user, nice, system, irq, softirq, steal].reduce((a, b) => a + Number(b), 0);
    cpus.set(name!, [busy, busy + Number(idle) + Number(iowait)]);
  }
  return cpus;
}

function busyPercent(
  before: Map<string, [number, number]>,
  after: Map<string, [number, number]>,
  cpu: string,
): number {
  const [busy0, all0] = before.get(cpu)!;
  const [busy1, all1] = after.get(cpu)!;
  return ((busy1 - busy0) / (all1 - all0)) * 100;
}

function meminfoBytes(field: string): number {
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(kb![1]) * 1024;
}

const hasStressNg = spawnSync('stress-ng', ['--version']).status === 0;

describe('system source accuracy on this machine (Linux)', function () {
  this.timeout(60_000);
  before(function () {
    if (process.platform !== 'linux') this.skip();
    if (!hasStressNg) {
      process.stderr.write('    stress-ng is not installed (apt-get install stress-ng): skipped\n');
      this.skip();
    }
  });

  for (const [workers, load] of [
    [1, 40],
    [2, 80],
  ] as const) {
    it(`cpu follows the load /proc/stat shows over the same interval, within 5 points, under stress-ng --cpu ${workers} --cpu-load ${load}`, async () => {
      let stress: ChildProcess | undefined;
      try {
        stress = spawn(
          'stress-ng',
          ['--cpu', String(workers), '--cpu-load', String(load), '--timeout', '60s', '--quiet'],
          { stdio: 'ignore', detached: true },
        );
        const pid = stress.pid!;
        await eventually(async () => expect(await childPids(pid)).to.have.length(workers));
        const source = await SystemSource.start('accuracy');
        const before = procStat();
        // The window must hold enough ticks (100 per cpu and second) for 5 points to mean something.
        await eventually(
          () => {
            const [, all] = procStat().get('cpu0')!;
            expect(all - before.get('cpu0')![1]).to.be.at.least(200);
          },
          { intervalMs: 100 },
        );
        const [record] = await source.collect();
        const after = procStat();
        const m = record!.metrics;
        const shown = busyPercent(before, after, 'cpu');
        // Other work shares this machine: the load is at least stress-ng's, whatever else runs.
        expect(shown).to.be.at.least(
          (Math.min(100, (workers * load) / availableParallelism()) * 0.5) | 0,
        );
        expect(m.cpu).to.be.closeTo(shown, 5);
        for (const cpu of after.keys()) {
          if (cpu === 'cpu') continue;
          expect(m[`cpu.core.${cpu.slice(3)}`], cpu).to.be.closeTo(
            busyPercent(before, after, cpu),
            5,
          );
        }
      } finally {
        // stress-ng and its workers: the group this test started.
        if (stress?.pid && stress.exitCode === null) process.kill(-stress.pid, 'SIGTERM');
      }
    });
  }

  it('memory is within 1 % of /proc/meminfo', async () => {
    const source = new SystemSource('accuracy');
    const [record] = await source.collect();
    const total = meminfoBytes('MemTotal');
    const available = meminfoBytes('MemAvailable');
    const m = record!.metrics;
    expect(m['mem.total_bytes']).to.equal(total);
    expect(m['mem.available_bytes']).to.be.closeTo(available, available * 0.01);
    expect(m['mem.used_bytes']).to.be.closeTo(total - available, (total - available) * 0.01);
    expect(m.mem).to.be.closeTo(((total - available) / total) * 100, 1);
  });
});
