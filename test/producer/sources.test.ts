import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { collectSamples } from '../../producer/collect.ts';
import { NvidiaSource, parseNvidiaSmi } from '../../producer/sources/nvidia.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import { createMemoryLog } from '../../proto/log.ts';
import { SampleIds } from '../../proto/sample.ts';

/** A stand-in nvidia-smi that prints what the real one prints for this query (no real GPU is lent to the project). */
function fakeNvidiaSmi(output: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-nvidia-'));
  const path = join(dir, 'nvidia-smi');
  writeFileSync(
    path,
    `#!/bin/sh\ncase "$*" in *--query-gpu=index,utilization.gpu,memory.used,memory.total*) printf '${output}' ;; *) exit 9 ;; esac\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

describe('sources', () => {
  describe('nvidia', () => {
    it('parses nvidia-smi CSV and skips cards that cannot report', () => {
      expect(parseNvidiaSmi('0, 35, 1024, 16384\n1, [N/A], 10, 100\n')).to.deep.equal([
        { index: 0, utilization: 35, memoryUsed: 1024, memoryTotal: 16384 },
      ]);
    });

    it('reports gpu and gpu.mem through a stand-in nvidia-smi, per card when there are several', async () => {
      const smi = fakeNvidiaSmi('0, 30, 4096, 16384\\n1, 50, 8192, 16384\\n');
      const source = await NvidiaSource.detect('gpu-host', createMemoryLog(), smi);
      expect(source).to.not.equal(null);
      const [record] = await source!.collect(AbortSignal.timeout(5_000));
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
    });

    it('finds no GPU when nvidia-smi is missing or fails', async () => {
      expect(await NvidiaSource.detect('h', createMemoryLog(), '/nonexistent/nvidia-smi')).to.equal(
        null,
      );
      expect(await NvidiaSource.detect('h', createMemoryLog(), fakeNvidiaSmi(''))).to.equal(null);
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
