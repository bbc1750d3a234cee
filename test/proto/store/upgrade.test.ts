// Upgrade without loss: history written in layout 1 (the fold scripts as they
// were) is converted when the new storage consumer starts, and every point, every
// minute, every dedup entry and every count reads back through the new code.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createMemoryLog } from '../../../deploy/runtime/log.ts';
import type { RunningGateway } from '../../../gateway/service.ts';
import { keys } from '../../../proto/keys.ts';
import type { Sample } from '../../../proto/sample.ts';
import { historyKeys } from '../../../proto/store/codec.ts';
import { upgradeLayout } from '../../../proto/store/upgrade.ts';
import { Folder } from '../../../receiver/fold.ts';
import { gatewayOn, getJson, storeOn } from '../../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../../harness/servers.ts';
import { exactAverage } from './exact-average.ts';
import { V1Folder } from './v1/layout.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const RETENTION = { horizonMs: DAY, rawRetentionMs: DAY, minuteRetentionMs: 30 * DAY };

describe('history upgrade from layout 1', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redisServer: ServerProcess;
  let redis: Redis;
  let gateway: RunningGateway;
  const hosts = ['old-web-1', 'old-db-2'];
  const written = new Map<string, Sample[]>();
  const now = Date.now();

  before(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    redis = new Redis(redisServer.url);
    const v1 = new V1Folder(redis, RETENTION);
    // 20 hours of samples every 30 s, across hour and day boundaries, with short
    // decimals, whole numbers and full doubles, a few of them late.
    for (const [h, host] of hosts.entries()) {
      const samples: Sample[] = [];
      for (let i = 0; i < 2_400; i++) {
        const time = now - 20 * HOUR + i * 30_000;
        samples.push({
          host,
          id: `${host}-${i}`,
          time,
          interval: 30,
          metrics: {
            cpu: Math.round((50 + 40 * Math.sin(i / 40 + h)) * 100) / 100,
            'net.rx_bytes_per_s': 1_000 + ((i * 7_919) % 100_000),
            ratio: (i + 1) / 3,
          },
        });
      }
      const late = samples.splice(100, 5);
      samples.push(...late);
      for (const sample of samples) await v1.fold(sample);
      written.set(host, samples);
    }
  });

  after(async () => {
    redis.disconnect();
    await gateway?.stop();
    for (const s of [nats, redisServer]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  it('converts layout 1 when the storage consumer starts, and leaves none of its keys', async () => {
    expect(await redis.exists(`ls:{${hosts[0]}}:raw:cpu`)).to.equal(1);
    const store = await storeOn({ NATS_URL: nats.url, REDIS_URL: redisServer.url });
    try {
      const result = await store.upgraded;
      expect(result).to.deep.include({ upgraded: true, hosts: 2 });
    } finally {
      await store.stop();
    }
    expect(await redis.get(historyKeys.layout)).to.equal('2');
    for (const host of hosts) {
      const left = await redis.keys(`ls:{${host}}:*`);
      expect(
        left.filter((k) => /:(raw:|1m:|seen$|stored$)/.test(k)),
        host,
      ).to.deep.equal([]);
    }
  });

  it('reads every raw point back through the gateway, exactly and in time order', async () => {
    gateway = await gatewayOn({ NATS_URL: nats.url, REDIS_URL: redisServer.url });
    for (const host of hosts) {
      for (const metric of ['cpu', 'net.rx_bytes_per_s', 'ratio']) {
        const res = await getJson(
          new URL(
            `api/v1/history?metric=${metric}&host=${host}&from=${now - 21 * HOUR}&to=${now}&step=raw`,
            gateway.url,
          ),
        );
        expect(res.status).to.equal(200);
        const expected = [...written.get(host)!]
          .sort((a, b) => a.time - b.time)
          .map((s) => [s.time, s.metrics[metric]]);
        expect(res.body.points.filter((p: unknown[]) => p[1] !== null)).to.deep.equal(expected);
      }
    }
  });

  it('reads every minute back with its count, min, max and average', async () => {
    for (const host of hosts) {
      for (const metric of ['cpu', 'net.rx_bytes_per_s', 'ratio']) {
        const res = await getJson(
          new URL(
            `api/v1/history?metric=${metric}&host=${host}&from=${now - 21 * HOUR}&to=${now}&step=1m`,
            gateway.url,
          ),
        );
        const byMinute = new Map<number, number[]>();
        for (const s of written.get(host)!) {
          const minute = s.time - (s.time % 60_000);
          byMinute.set(minute, [...(byMinute.get(minute) ?? []), s.metrics[metric]!]);
        }
        const filled = res.body.points.filter((p: number[]) => p[2] !== 0);
        expect(filled.map((p: number[]) => p[0])).to.deep.equal(
          [...byMinute.keys()].sort((a, b) => a - b),
        );
        for (const [time, avg, count, min, max] of filled as number[][]) {
          const values = byMinute.get(time!)!;
          expect([count, min, max]).to.deep.equal([
            values.length,
            Math.min(...values),
            Math.max(...values),
          ]);
          const exact = exactAverage(values);
          if (exact !== null) expect(avg).to.equal(exact);
          else expect(avg).to.be.closeTo(values.reduce((a, b) => a + b, 0) / values.length, 1e-12);
        }
      }
    }
  });

  it('keeps the dedup record and the count of samples stored', async () => {
    const folder = new Folder(redis, RETENTION);
    for (const host of hosts) {
      const samples = written.get(host)!;
      expect(await folder.fold(samples[0]!)).to.equal('duplicate');
      expect(await folder.fold(samples.at(-1)!)).to.equal('duplicate');
      expect(await folder.isFolded({ ...samples[0]!, id: 'never-folded' })).to.equal(false);
      const hostsAnswer = await getJson(new URL('api/v1/hosts', gateway.url));
      const entry = hostsAnswer.body.hosts.find((h: { host: string }) => h.host === host);
      expect(entry.samples_stored).to.equal(samples.length);
    }
  });

  it('folds new samples beside the converted ones, and a second upgrade changes nothing', async () => {
    const folder = new Folder(redis, RETENTION);
    const host = hosts[0]!;
    const time = now - 10 * HOUR + 15_000;
    expect(
      await folder.fold({ host, id: 'after-upgrade', time, interval: 30, metrics: { cpu: 7.25 } }),
    ).to.equal('folded');
    const res = await getJson(
      new URL(
        `api/v1/history?metric=cpu&host=${host}&from=${time - 60_000}&to=${time + 60_000}&step=raw`,
        gateway.url,
      ),
    );
    expect(
      res.body.points.filter((p: unknown[]) => p[1] !== null).map((p: number[]) => p[0]),
    ).to.deep.equal([time - 45_000, time - 15_000, time, time + 15_000, time + 45_000]);
    const again = await upgradeLayout(redis, RETENTION, createMemoryLog('test'));
    expect(again.upgraded).to.equal(false);
    expect(await redis.zcard(keys.hosts)).to.equal(2);
  });
});
