// Redis is a view, JetStream the record: a Redis that comes back empty or from
// an old snapshot is refilled from the stream, and refolding the whole stream
// changes nothing. On servers of its own (the test restarts Redis).
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { connectNats, type NatsLink } from '../../deploy/runtime/nats.ts';
import { connectRedis } from '../../deploy/runtime/redis.ts';
import { keys } from '../../proto/keys.ts';
import { Folder } from '../../receiver/fold.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { refold } from '../../receiver/store/refold.ts';
import { eventually } from '../harness/eventually.ts';
import { history, postSample, receiverOn, storeOn, uniqueName } from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

describe('rebuilding Redis from the stream', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redisServer: ServerProcess;
  let redis: Redis;
  let receiver: RunningReceiver;
  let store: Awaited<ReturnType<typeof storeOn>>;
  let env: Record<string, string>;

  before(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    env = {
      NATS_URL: nats.url,
      REDIS_URL: redisServer.url,
      STORE_CHECKPOINT: '100ms',
      STORE_SETTLE: '0ms',
    };
    [receiver, store] = await Promise.all([receiverOn(env), storeOn(env)]);
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  });
  after(async () => {
    redis.disconnect();
    await Promise.all([receiver.stop(), store.stop()]);
    for (const s of [nats, redisServer]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  /** Posts `count` samples of `host` (seq 0..count-1, one second apart from `t0`) and returns their stream positions. */
  async function postSeries(
    host: string,
    t0: number,
    from: number,
    count: number,
  ): Promise<number[]> {
    const seqs: number[] = [];
    for (let i = from; i < from + count; i++) {
      const res = await postSample(
        receiver.url,
        { seq: i, cpu: i % 100 },
        {
          'Loadstar-Host': host,
          'Loadstar-Sample-Id': `s${i}`,
          'Loadstar-Time': String(t0 + i * 1000),
          'Loadstar-Interval': '1',
        },
      );
      expect(res.status).to.equal(200);
      seqs.push(res.body.seq as number);
    }
    return seqs;
  }

  const checkpointAtLeast = (seq: number) =>
    eventually(async () => expect(Number(await redis.get(keys.checkpoint))).to.be.at.least(seq), {
      timeoutMs: 15_000,
    });

  async function expectComplete(host: string, count: number): Promise<void> {
    const points = await history(redis, host, 'seq');
    expect(points.map(([, v]) => v)).to.deep.equal([...Array(count).keys()]);
    // Counted once each: the fold's own count and the one-minute aggregates agree with the samples.
    expect(await redis.hget(keys.hostMeta(host), 'samples')).to.equal(String(count));
    const latest = await redis.hget(keys.hostLatest(host), 'seq');
    expect(latest?.split('|')[1]).to.equal(String(count - 1));
  }

  it('refills a Redis that came back empty, from the stream, counting each sample once', async () => {
    const host = uniqueName('emptied');
    const t0 = Date.now() - 300_000;
    const seqs = await postSeries(host, t0, 0, 60);
    await checkpointAtLeast(seqs.at(-1)!);
    await redisServer.restart();
    await eventually(async () => expect(await redis.ping()).to.equal('PONG'), {
      timeoutMs: 15_000,
    });
    expect(await redis.dbsize()).to.equal(0);
    await eventually(async () => expectComplete(host, 60), { timeoutMs: 30_000, intervalMs: 200 });
    expect(store.log.lines.join('')).to.include('Redis is behind the stream');
    expect(store.log.lines.join('')).to.include('Redis rebuilt from the stream');
    // Samples keep flowing after the rebuild and land once.
    await eventually(
      async () =>
        expect(
          (
            await postSample(
              receiver.url,
              { seq: 60 },
              {
                'Loadstar-Host': host,
                'Loadstar-Sample-Id': 's60',
                'Loadstar-Time': String(t0 + 60_000),
              },
            )
          ).status,
        ).to.equal(200),
      { timeoutMs: 15_000 },
    );
    await expectComplete(host, 61);
  });

  it('refills what an old snapshot lacks', async () => {
    const host = uniqueName('snapshot');
    const t0 = Date.now() - 200_000;
    const first = await postSeries(host, t0, 0, 30);
    await checkpointAtLeast(first.at(-1)!);
    await redis.save();
    const second = await postSeries(host, t0, 30, 30);
    await checkpointAtLeast(second.at(-1)!);
    // A restart loads the snapshot taken after the first 30: the last 30 are gone from Redis.
    await redisServer.restart();
    await eventually(async () => expect(await redis.ping()).to.equal('PONG'), {
      timeoutMs: 15_000,
    });
    await eventually(async () => expectComplete(host, 60), { timeoutMs: 30_000, intervalMs: 200 });
  });

  it('changes nothing when the whole stream is folded again, twice', async () => {
    const host = uniqueName('replayed');
    const t0 = Date.now() - 100_000;
    await postSeries(host, t0, 0, 40);
    const log = createMemoryLog();
    const link: NatsLink = await connectNats(
      {
        servers: [new URL(nats.url)],
        replicas: 1,
        streamMaxAgeMs: 86_400_000,
        streamMaxBytes: -1,
        duplicateWindowMs: 120_000,
      },
      'test',
      log,
    );
    const client = await connectRedis({ urls: [new URL(redisServer.url)] }, 'test', log);
    try {
      const folder = new Folder(client, {
        horizonMs: 86_400_000,
        rawRetentionMs: 86_400_000,
        minuteRetentionMs: 30 * 86_400_000,
      });
      const before = await redis.hgetall(keys.hostMeta(host));
      for (let round = 0; round < 2; round++) {
        const result = await refold(link, folder, 1, log);
        expect(result.folded).to.equal(0);
        expect(result.unchanged).to.be.at.least(40);
      }
      expect(await redis.hgetall(keys.hostMeta(host))).to.deep.equal(before);
      await expectComplete(host, 40);
    } finally {
      await link.close();
      client.disconnect();
    }
  });

  it('folds the stream again from the command line (npm run replay), changing nothing that is right', async () => {
    const host = uniqueName('cli');
    await postSeries(host, Date.now() - 50_000, 0, 10);
    const before = await redis.hgetall(keys.hostMeta(host));
    const run = runScript('receiver/store/replay.ts', {
      NATS_URL: nats.url,
      REDIS_URL: redisServer.url,
      LOG_LEVEL: 'info',
    });
    expect(await run.exited).to.equal(0);
    expect(run.output()).to.match(/replayed .*folded=0/);
    expect(await redis.hgetall(keys.hostMeta(host))).to.deep.equal(before);
    await expectComplete(host, 10);
  });
});
