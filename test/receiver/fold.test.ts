// The fold shared by the receiver and the store, as two processes see it: each
// remembers the hosts it folded last, and a host both fold stays right and is
// not folded twice over.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Sample } from '../../proto/sample.ts';
import { readRawPoints } from '../../proto/store/codec.ts';
import { Folder } from '../../receiver/fold.ts';
import { redisClient, uniqueName } from '../harness/pipeline.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const SETTINGS = { horizonMs: DAY, rawRetentionMs: 6 * HOUR, minuteRetentionMs: 30 * DAY };

describe('fold by two processes', () => {
  let redis: Redis;

  before(() => {
    redis = redisClient();
  });
  after(() => redis.disconnect());

  it('reads a host that another process folds too before each fold, instead of having every other fold refused', async () => {
    const host = uniqueName('shared');
    // Two folders are two processes: each has its own memory of the hosts it folded.
    const [first, second] = [new Folder(redis, SETTINGS), new Folder(redis, SETTINGS)];
    const start = Date.now() - 60_000;
    const samples: Sample[] = Array.from({ length: 20 }, (_, i) => ({
      host,
      id: `${host}-${i}`,
      time: start + i * 1_000,
      interval: 1,
      metrics: { cpu: i + 0.5 },
    }));
    // Taking turns, as two store copies on one durable do with a backlog.
    for (const [i, s] of samples.entries())
      expect(await (i % 2 === 0 ? first : second).fold(s)).to.equal('folded');
    // Each learns once that the other folds this host; without that, each of its
    // 10 folds after its first would be refused once and encoded again.
    expect(first.reencoded + second.reencoded).to.be.at.most(2);
    const points = await readRawPoints(redis, host, 'cpu', start - 1, Date.now());
    expect(points.map(([, v]) => v)).to.deep.equal(samples.map((s) => s.metrics.cpu));
  });
});
