import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { Spool } from '../../producer/spool.ts';
import type { Sample } from '../../proto/sample.ts';

const sample = (i: number): Sample => ({
  host: 'h',
  id: `id-${i}`,
  time: 1_700_000_000_000 + i,
  interval: 1,
  metrics: { seq: i },
});
const seqs = (samples: Sample[]) => samples.map((s) => s.metrics.seq!);
const tempDir = () => mkdtempSync(join(tmpdir(), 'loadstar-spool-'));

describe('disk spool', () => {
  it('hands back samples oldest first and forgets them once committed', async () => {
    const spool = await Spool.open(tempDir(), 1_000_000, createMemoryLog());
    await spool.append([sample(1), sample(2), sample(3)]);
    await spool.append([sample(4)]);
    expect(spool.depth).to.equal(4);
    const first = await spool.peek(3);
    expect(seqs(first.samples)).to.deep.equal([1, 2, 3]);
    // Peeking again without a commit gives the same samples: nothing is lost to a failed post.
    expect(seqs((await spool.peek(3)).samples)).to.deep.equal([1, 2, 3]);
    await spool.commit(first);
    expect(spool.depth).to.equal(1);
    const rest = await spool.peek(10);
    expect(seqs(rest.samples)).to.deep.equal([4]);
    await spool.commit(rest);
    expect(spool.depth).to.equal(0);
    expect((await spool.peek(10)).samples).to.deep.equal([]);
  });

  it('keeps undelivered samples across a restart, with their ids and times', async () => {
    const dir = tempDir();
    const before = await Spool.open(dir, 1_000_000, createMemoryLog());
    await before.append([sample(1), sample(2), sample(3)]);
    await before.commit(await before.peek(1));
    const after = await Spool.open(dir, 1_000_000, createMemoryLog());
    expect(after.depth).to.equal(2);
    const batch = await after.peek(10);
    expect(batch.samples.map((s) => [s.id, s.time])).to.deep.equal([
      ['id-2', sample(2).time],
      ['id-3', sample(3).time],
    ]);
  });

  it('delivers across many segments in order and removes finished segment files', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, 200_000, createMemoryLog());
    for (let i = 0; i < 300; i++) await spool.append([sample(i)]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.ndjson')).length).to.be.greaterThan(2);
    const delivered: number[] = [];
    for (;;) {
      const batch = await spool.peek(70);
      if (batch.samples.length === 0) break;
      delivered.push(...seqs(batch.samples));
      await spool.commit(batch);
    }
    expect(delivered).to.deep.equal([...Array(300).keys()]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.ndjson')).length).to.be.at.most(1);
  });

  it('drops the oldest samples when full, logs it and counts it across restarts', async () => {
    const dir = tempDir();
    const log = createMemoryLog();
    const spool = await Spool.open(dir, 65_536, log);
    for (let i = 0; i < 2000; i++) await spool.append([sample(i)]);
    expect(spool.dropped).to.be.greaterThan(0);
    expect(spool.bytes).to.be.at.most(65_536);
    expect(log.lines.join('')).to.include('spool full: dropped the oldest samples');
    const kept = seqs((await spool.peek(5000)).samples);
    // What is left is the newest, contiguous, ending at the last sample.
    expect(kept.at(-1)).to.equal(1999);
    expect(kept).to.deep.equal([...Array(kept.length).keys()].map((i) => 2000 - kept.length + i));
    expect(spool.dropped + kept.length).to.equal(2000);
    const reopened = await Spool.open(dir, 65_536, createMemoryLog());
    expect(reopened.dropped).to.equal(spool.dropped);
  });

  it('skips a torn last line left by a crash in the middle of a write', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, 1_000_000, createMemoryLog());
    await spool.append([sample(1)]);
    const segment = readdirSync(dir).find((n) => n.endsWith('.ndjson'))!;
    writeFileSync(join(dir, segment), '{"host":"h","id":"torn","ti\n', { flag: 'a' });
    const log = createMemoryLog();
    const reopened = await Spool.open(dir, 1_000_000, log);
    await reopened.append([sample(2)]);
    expect(seqs((await reopened.peek(10)).samples)).to.deep.equal([1, 2]);
    expect(log.lines.join('')).to.include('unreadable');
  });
});
