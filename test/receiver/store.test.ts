// The storage consumer folds what the stream holds, whatever the receiver did:
// a receiver that died after publishing loses nothing, a restarted consumer
// resumes where it stopped, and a redelivered sample changes nothing.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { keys } from '../../proto/keys.ts';
import type { Sample } from '../../proto/sample.ts';
import { eventually } from '../harness/eventually.ts';
import {
  history,
  natsClient,
  publishSample,
  redisClient,
  storeOn,
  uniqueName,
} from '../harness/pipeline.ts';

function samples(host: string, count: number, start = Date.now() - 60_000): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    host,
    id: `s${i}`,
    time: start + i * 10,
    interval: 0.01,
    metrics: { seq: i, cpu: i % 100 },
  }));
}

describe('storage consumer', function () {
  this.timeout(60_000);
  let nc: NatsConnection;
  let redis: Redis;

  before(async () => {
    nc = await natsClient();
    redis = redisClient();
  });
  after(async () => {
    await nc.close();
    redis.disconnect();
  });

  it('folds samples that reached the stream without the receiver’s fold', async () => {
    const store = await storeOn();
    try {
      const host = uniqueName('direct');
      const batch = samples(host, 30);
      for (const s of batch) await publishSample(nc, s);
      await eventually(async () => expect(await history(redis, host, 'seq')).to.have.length(30));
      expect((await history(redis, host, 'seq')).map(([, v]) => v)).to.deep.equal(
        batch.map((s) => s.metrics.seq),
      );
      expect(await redis.hget(keys.hostLatest(host), 'seq')).to.equal(`${batch[29]!.time}|29`);
    } finally {
      await store.stop();
    }
  });

  it('resumes after a restart and folds everything published while it was down, once', async () => {
    const host = uniqueName('restart');
    const first = await storeOn();
    const batch = samples(host, 100);
    for (const s of batch.slice(0, 40)) await publishSample(nc, s);
    await eventually(async () => expect(await history(redis, host, 'seq')).to.have.length(40));
    await first.stop();
    for (const s of batch.slice(40)) await publishSample(nc, s);
    const second = await storeOn();
    try {
      await eventually(async () => expect(await history(redis, host, 'seq')).to.have.length(100));
      expect(await redis.hget(keys.hostMeta(host), 'samples')).to.equal('100');
    } finally {
      await second.stop();
    }
  });

  it('folds a sample delivered twice only once (past JetStream’s own dedup)', async () => {
    const store = await storeOn();
    try {
      const host = uniqueName('twice');
      const [sample] = samples(host, 1);
      await publishSample(nc, sample!, 'first-copy');
      await publishSample(nc, sample!, 'second-copy');
      await publishSample(nc, {
        ...sample!,
        id: 'marker',
        time: sample!.time + 1,
        metrics: { marker: 1 },
      });
      await eventually(async () =>
        expect(await redis.hget(keys.hostLatest(host), 'marker')).to.not.equal(null),
      );
      expect(await history(redis, host, 'seq')).to.have.length(1);
      expect(await redis.hget(keys.hostMeta(host), 'samples')).to.equal('2');
    } finally {
      await store.stop();
    }
  });

  it('skips a message that is not a sample and keeps folding', async () => {
    const store = await storeOn();
    try {
      const host = uniqueName('garbage');
      await nc.jetstream().publish(`metrics.samples.${host}`, 'this is not a sample');
      const [sample] = samples(host, 1);
      await publishSample(nc, sample!);
      await eventually(async () => expect(await history(redis, host, 'seq')).to.have.length(1));
      expect(store.log.lines.join('')).to.include('not a sample');
    } finally {
      await store.stop();
    }
  });
});
