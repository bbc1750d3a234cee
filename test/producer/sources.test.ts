import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { collectSamples } from '../../producer/collect.ts';
import { NvidiaSource, nvidiaDriverLoaded, parseNvidiaSmi } from '../../producer/sources/nvidia.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import { SampleIds } from '../../proto/sample.ts';
import { eventually } from '../harness/eventually.ts';
import { commandLine, isAlive } from '../harness/processes.ts';

/**
 * A stand-in nvidia-smi (no real GPU is lent to the project) that prints what the
 * real one prints for this query: one CSV line per card, the cards' figures taken
 * from `readings` in its directory; with --loop-ms=N again every N ms until killed,
 * as the real one does. Each start appends its PID to `starts`.
 */
function fakeNvidiaSmi(readings: string): { path: string; dir: string; starts(): number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-nvidia-'));
  const path = join(dir, 'nvidia-smi');
  writeFileSync(join(dir, 'readings'), readings);
  writeFileSync(
    path,
    `#!/bin/sh
echo $$ >> '${dir}/starts'
case "$*" in *--query-gpu=index,utilization.gpu,memory.used,memory.total*--format=csv,noheader,nounits*) ;; *) exit 9 ;; esac
loop=
for arg; do case "$arg" in --loop-ms=*) loop=\${arg#--loop-ms=} ;; esac; done
while :; do
  [ -s '${dir}/readings' ] || { echo "No devices were found" >&2; exit 6; }
  while IFS= read -r line; do printf '%s\n' "$line"; done < '${dir}/readings'
  [ -n "$loop" ] || exit 0
  sleep "$((loop / 1000)).$(printf %03d $((loop % 1000)))"
done
`,
  );
  chmodSync(path, 0o755);
  const starts = () =>
    existsSync(join(dir, 'starts'))
      ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n').map(Number)
      : [];
  return { path, dir, starts };
}

describe('sources', () => {
  describe('nvidia', () => {
    it('parses nvidia-smi CSV and skips cards that cannot report', () => {
      expect(parseNvidiaSmi('0, 35, 1024, 16384\n1, [N/A], 10, 100\n')).to.deep.equal([
        { index: 0, utilization: 35, memoryUsed: 1024, memoryTotal: 16384 },
      ]);
    });

    it('reports gpu and gpu.mem from one long-running nvidia-smi, per card when there are several, following its new readings', async () => {
      const smi = fakeNvidiaSmi('0, 30, 4096, 16384\n1, 50, 8192, 16384\n');
      const settings = { command: smi.path, intervalSeconds: 0.1 };
      const source = await NvidiaSource.detect('gpu-host', createMemoryLog(), settings);
      expect(source).to.not.equal(null);
      try {
        const [record] = await eventually(async () => {
          const records = await source!.collect();
          expect(records[0]!.metrics).to.have.property('gpu.1');
          return records;
        });
        expect(record).to.deep.equal({
          host: 'gpu-host',
          metrics: {
            gpu: 40,
            'gpu.mem': 37.5,
            'gpu.0': 30,
            'gpu.0.mem': 25,
            'gpu.1': 50,
            'gpu.1.mem': 50,
          },
        });
        writeFileSync(join(smi.dir, 'readings'), '0, 90, 2048, 16384\n1, 10, 1024, 16384\n');
        await eventually(async () => {
          const [r] = await source!.collect();
          expect(r!.metrics).to.deep.include({ gpu: 50, 'gpu.0': 90, 'gpu.1': 10 });
        });
        // One run to detect the GPU, then one that loops at the agent's interval: none per sample.
        expect(smi.starts()).to.have.length(2);
        expect(await commandLine(source!.pid!)).to.include('--loop-ms=100');
      } finally {
        source?.close();
      }
    });

    it('starts nvidia-smi again when it dies, and reports nothing stale meanwhile', async () => {
      const smi = fakeNvidiaSmi('0, 30, 4096, 16384\n');
      const log = createMemoryLog();
      const source = await NvidiaSource.detect('gpu-host', log, {
        command: smi.path,
        intervalSeconds: 0.1,
      });
      try {
        await eventually(async () => {
          const [r] = await source!.collect();
          expect(r!.metrics.gpu).to.equal(30);
        });
        // The driver goes away: the loop exits, and the next start finds no device for a while.
        writeFileSync(join(smi.dir, 'readings'), '');
        await eventually(() => expect(smi.starts()).to.have.length(3), { timeoutMs: 5_000 });
        await eventually(async () => {
          const [r] = await source!.collect();
          expect(r!.metrics).to.deep.equal({});
        });
        writeFileSync(join(smi.dir, 'readings'), '0, 70, 4096, 16384\n');
        // Backoff: 1 s, then 2 s.
        await eventually(
          async () => {
            const [r] = await source!.collect();
            expect(r!.metrics.gpu).to.equal(70);
          },
          { timeoutMs: 10_000 },
        );
        expect(log.lines.join('')).to.include('nvidia-smi stopped; starting it again');
        expect(log.lines.join('')).to.include('No devices were found');
      } finally {
        source?.close();
      }
    });

    it('stops its nvidia-smi when closed', async () => {
      const smi = fakeNvidiaSmi('0, 30, 4096, 16384\n');
      const source = await NvidiaSource.detect('gpu-host', createMemoryLog(), {
        command: smi.path,
        intervalSeconds: 0.1,
      });
      await eventually(() => expect(smi.starts()).to.have.length(2));
      const pid = smi.starts()[1]!;
      expect(isAlive(pid)).to.equal(true);
      source!.close();
      await eventually(() => expect(isAlive(pid)).to.equal(false));
    });

    it("asks nvidia-smi only where NVIDIA's driver is loaded", () => {
      const root = mkdtempSync(join(tmpdir(), 'loadstar-driver-'));
      expect(nvidiaDriverLoaded(root)).to.equal(false);
      mkdirSync(join(root, 'proc/driver/nvidia'), { recursive: true });
      writeFileSync(join(root, 'proc/driver/nvidia/version'), 'NVRM version: 550.54.14\n');
      expect(nvidiaDriverLoaded(root)).to.equal(true);
    });

    it('finds no GPU when nvidia-smi is missing or fails', async () => {
      const settings = (command: string) => ({ command, intervalSeconds: 5 });
      expect(
        await NvidiaSource.detect('h', createMemoryLog(), settings('/nonexistent/nvidia-smi')),
      ).to.equal(null);
      const none = fakeNvidiaSmi('');
      expect(await NvidiaSource.detect('h', createMemoryLog(), settings(none.path))).to.equal(null);
      expect(none.starts()).to.have.length(1);
    });
  });

  describe('merging', () => {
    const source = (name: string, collect: Source['collect']): Source => ({ name, collect });

    it('merges what several sources report for one host into one sample, and keeps hosts apart', async () => {
      const samples = await collectSamples(
        [
          source('a', async () => [{ host: 'h1', metrics: { cpu: 1, mem: 2 } }]),
          source(
            'b',
            async (): Promise<PartialRecord[]> => [
              { host: 'h1', metrics: { disk: 3, gpu: 4 } },
              { host: 'h2', metrics: { cpu: 9 } },
            ],
          ),
        ],
        1_000,
        1_700_000_000_000,
        5,
        new SampleIds(),
        createMemoryLog(),
      );
      expect(samples.map((s) => [s.host, { ...s.metrics }])).to.deep.equal([
        ['h1', { cpu: 1, mem: 2, disk: 3, gpu: 4 }],
        ['h2', { cpu: 9 }],
      ]);
      expect(new Set(samples.map((s) => s.id)).size).to.equal(2);
      expect(samples.every((s) => s.time === 1_700_000_000_000 && s.interval === 5)).to.equal(true);
    });

    it('keeps the others when a source fails, hangs or returns garbage, and counts the failures', async () => {
      const failures: string[] = [];
      const log = createMemoryLog();
      const samples = await collectSamples(
        [
          source('good', async () => [{ host: 'h', metrics: { cpu: 1 } }]),
          source('broken', async () => {
            throw new Error('connection refused');
          }),
          source(
            'hanging',
            (signal) =>
              new Promise((_, reject) =>
                signal.addEventListener('abort', () => reject(new Error('timed out'))),
              ),
          ),
          source(
            'garbage',
            async (): Promise<PartialRecord[]> => [
              { host: 'bad host', metrics: { cpu: 5 } },
              { host: 'h', metrics: { 'bad name': 1, nan: Number.NaN, ok: 2 } },
            ],
          ),
        ],
        100,
        1,
        1,
        new SampleIds(),
        log,
        { inc: ({ source: s }) => failures.push(s) },
      );
      expect(samples.map((s) => [s.host, { ...s.metrics }])).to.deep.equal([
        ['h', { cpu: 1, ok: 2 }],
      ]);
      expect(failures.sort()).to.deep.equal(['broken', 'garbage', 'hanging']);
      expect(log.lines.join('')).to.include('connection refused');
    });
  });
});
