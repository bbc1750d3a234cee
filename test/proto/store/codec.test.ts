// The history codec against a real Redis: what the fold scripts write, the
// readers give back exactly, whatever the values, the order, the repeats and
// the block edges; and a model of the pipeline's promises agrees with it on
// random series (fast-check).
import { expect } from 'chai';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { keys } from '../../../proto/keys.ts';
import type { Sample } from '../../../proto/sample.ts';
import {
  historyKeys,
  idHash,
  parseHostLatest,
  readMinutePoints,
  readRawPoints,
  tokenValue,
  valueToken,
} from '../../../proto/store/codec.ts';
import { Folder } from '../../../receiver/fold.ts';
import { redisClient, uniqueName } from '../../harness/pipeline.ts';
import { exactAverage } from './exact-average.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const SETTINGS = { horizonMs: DAY, rawRetentionMs: 6 * HOUR, minuteRetentionMs: 30 * DAY };

const EDGE_VALUES = [
  -0,
  0,
  5e-324,
  -5e-324,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  2.2250738585072014e-308,
  0.1 + 0.2,
  1 / 3,
  123456.78901234,
  12345678901234,
  123456789012345,
  9007199254740992,
  1e21,
  1e-7,
  99.99,
  -42.5,
  100,
  3.25,
];

describe('history codec', () => {
  let redis: Redis;
  let folder: Folder;
  let ids = 0;

  before(() => {
    redis = redisClient();
    folder = new Folder(redis, SETTINGS);
  });
  after(() => redis.disconnect());

  const sample = (host: string, time: number, metrics: Record<string, number>): Sample => ({
    host,
    id: `s${++ids}`,
    time,
    interval: 5,
    metrics,
  });
  const raw = (host: string, metric: string, from = Date.now() - DAY, to = Date.now()) =>
    readRawPoints(redis, host, metric, from, to);

  describe('value tokens', () => {
    it('give back every double exactly, the sign of zero included', () => {
      for (const value of EDGE_VALUES)
        expect(Object.is(tokenValue(valueToken(value)), value), String(value)).to.equal(true);
      fc.assert(
        fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) =>
          Object.is(tokenValue(valueToken(value)), value),
        ),
        { numRuns: 20_000, seed: 13 },
      );
    });

    it('keep short decimals as decimals and everything else as doubles', () => {
      expect(valueToken(12.34)).to.equal('1234e-2');
      expect(valueToken(-0.5)).to.equal('-5e-1');
      expect(valueToken(1500)).to.equal('1500');
      expect(valueToken(0.30000000000000004)).to.equal('f0.30000000000000004');
      expect(valueToken(-0)).to.equal('f-0');
      expect(valueToken(123456789012345)).to.equal('f123456789012345');
    });
  });

  describe('round trip through Redis', () => {
    it('gives back edge values exactly in raw history, latest values and minute extremes', async () => {
      const host = uniqueName('edges');
      const start = Date.now() - 10 * 60_000;
      for (const [i, value] of EDGE_VALUES.entries()) {
        expect(await folder.fold(sample(host, start + i * 5_000, { v: value }))).to.equal('folded');
      }
      const points = await raw(host, 'v');
      expect(points.map(([t]) => t)).to.deep.equal(EDGE_VALUES.map((_, i) => start + i * 5_000));
      for (const [i, [, v]] of points.entries())
        expect(Object.is(v, EDGE_VALUES[i]), `${v} vs ${EDGE_VALUES[i]}`).to.equal(true);
      const latest = parseHostLatest((await redis.hget(keys.hostLatest(host), 'v'))!);
      expect(Object.is(latest.value, EDGE_VALUES.at(-1))).to.equal(true);
      const minutes = await readMinutePoints(redis, host, 'v', start, Date.now());
      expect(minutes.reduce((n, m) => n + m.count, 0)).to.equal(EDGE_VALUES.length);
      expect(Math.min(...minutes.map((m) => m.min))).to.equal(-1.7976931348623157e308);
      expect(Math.max(...minutes.map((m) => m.max))).to.equal(1.7976931348623157e308);
    });

    it('keeps repeated values, scale changes and long decimals exact along one chain', async () => {
      const host = uniqueName('scales');
      const values = [12, 12, 12.5, 12.25, 12.5, 13, 0.001, 1234567.891, 7, 7, 7, -3.5];
      const start = Date.now() - 5 * 60_000;
      for (const [i, v] of values.entries())
        await folder.fold(sample(host, start + i * 1_000, { cpu: v }));
      expect((await raw(host, 'cpu')).map(([, v]) => v)).to.deep.equal(values);
    });

    it('stores a late sample once and reads it back in time order, without moving the latest value', async () => {
      const host = uniqueName('late');
      const t = Date.now() - 60_000;
      await folder.fold(sample(host, t, { cpu: 1 }));
      await folder.fold(sample(host, t + 10_000, { cpu: 3 }));
      const late = sample(host, t + 5_000, { cpu: 2 });
      expect(await folder.fold(late)).to.equal('folded');
      expect(await folder.fold(late)).to.equal('duplicate');
      expect(await raw(host, 'cpu')).to.deep.equal([
        [t, 1],
        [t + 5_000, 2],
        [t + 10_000, 3],
      ]);
      expect(parseHostLatest((await redis.hget(keys.hostLatest(host), 'cpu'))!).value).to.equal(3);
      expect(await folder.isFolded(late)).to.equal(true);
      expect(await folder.isFolded({ ...late, id: 'never-sent' })).to.equal(false);
    });

    it('crosses hour and day boundaries without losing or moving a point', async () => {
      const host = uniqueName('edges');
      const midnight = Math.floor(Date.now() / DAY) * DAY;
      const hour = Math.floor(Date.now() / HOUR) * HOUR;
      const times = [
        ...new Set([midnight - 1, midnight, midnight + 1, hour - 60_001, hour - 1, hour, hour + 1]),
      ]
        .filter((t) => t < Date.now() - 1_000)
        .sort((a, b) => a - b);
      // Raw history kept a day here, so that the last midnight is inside it.
      const dayLong = new Folder(redis, { ...SETTINGS, rawRetentionMs: DAY });
      for (const [i, t] of times.entries()) await dayLong.fold(sample(host, t, { cpu: i + 0.5 }));
      expect(await raw(host, 'cpu', midnight - HOUR, Date.now())).to.deep.equal(
        times.map((t, i) => [t, i + 0.5]),
      );
      const minutes = await readMinutePoints(redis, host, 'cpu', midnight - HOUR, Date.now());
      expect(minutes.reduce((n, m) => n + m.count, 0)).to.equal(times.length);
      for (const m of minutes) expect(m.time % 60_000).to.equal(0);
    });

    it('starts a raw block again when it vanished under its chain', async () => {
      const host = uniqueName('vanish');
      const t = Date.now() - 30_000;
      await folder.fold(sample(host, t, { cpu: 10 }));
      await redis.del(historyKeys.rawBlock(host, Math.floor((t + 5_000) / HOUR), 'cpu'));
      await folder.fold(sample(host, t + 5_000, { cpu: 11 }));
      await folder.fold(sample(host, t + 10_000, { cpu: 12 }));
      const points = await raw(host, 'cpu');
      expect(points.slice(-2)).to.deep.equal([
        [t + 5_000, 11],
        [t + 10_000, 12],
      ]);
    });

    it('gives a closed block its spare room back', async () => {
      const host = uniqueName('trim');
      const hour = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
      const key = historyKeys.rawBlock(host, hour / HOUR - 1, 'cpu');
      const spare = async () =>
        Number(await redis.call('MEMORY', 'USAGE', key)) - (await redis.strlen(key));
      // Points into one hour until APPEND's doubling leaves at least a third spare
      // (it always does within one doubling), then one point in the next hour.
      let i = 0;
      do {
        await folder.fold(sample(host, hour - 1_000_000 + i * 1_000, { cpu: (i * 37) % 997 }));
        i++;
      } while (i < 3_000 && (i < 200 || (await spare()) < (await redis.strlen(key)) / 3));
      expect(await spare()).to.be.at.least((await redis.strlen(key)) / 3);
      await folder.fold(sample(host, hour + 1, { cpu: 1 }));
      const length = await redis.strlen(key);
      expect(Number(await redis.call('MEMORY', 'USAGE', key))).to.be.below(length * 1.1 + 150);
      expect((await raw(host, 'cpu')).length).to.equal(i + 1);
    });
  });

  describe('dedup record', () => {
    it('drops entries past keeping when it rewrites a shard, and keeps the rest', async () => {
      const host = uniqueName('shard');
      const fresh = sample(host, Date.now() - 1_000, { cpu: 1 });
      const hash = idHash(fresh.id);
      const shard = historyKeys.dedupShard(host, hash[0]! % 64);
      // Three entries stamped two days ago (past SAMPLE_MAX_AGE and the margin) and one stamped now.
      const stamp = (seconds: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(seconds);
        return b;
      };
      const old = Math.floor((Date.now() - 2 * DAY) / 1000);
      const gone = [0, 1, 2].map(() =>
        Buffer.from([hash[0]!, ...idHash(`${Math.random()}`).subarray(1)]),
      );
      const kept = Buffer.from([hash[0]!, ...idHash('kept').subarray(1)]);
      await redis.set(
        shard,
        Buffer.concat([
          ...gone.flatMap((g) => [g, stamp(old)]),
          kept,
          stamp(Math.floor(Date.now() / 1000)),
        ]),
      );
      expect(await folder.fold(fresh)).to.equal('folded');
      const after = (await redis.getBuffer(shard))!;
      expect(after.length).to.equal(24);
      expect(after.subarray(0, 8).equals(kept)).to.equal(true);
      expect(after.subarray(12, 20).equals(hash)).to.equal(true);
      expect(await redis.pttl(shard)).to.be.above(DAY);
    });
  });

  describe('against a model, on random series (fast-check)', () => {
    type Value = number;
    const valueArb = fc.oneof(
      fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100),
      fc.integer({ min: 0, max: 2_000_000_000 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }),
    );
    const seriesArb = fc.record({
      startAgo: fc.integer({ min: 2 * 60_000, max: 20 * HOUR }),
      step: fc.constantFrom(1_000, 5_000, 15_000, 60_000, 333),
      values: fc.array(fc.record({ cpu: fc.option(valueArb, { nil: undefined }), rx: valueArb }), {
        minLength: 1,
        maxLength: 80,
      }),
      swaps: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }),
      repeats: fc.array(fc.nat(), { maxLength: 10 }),
    });

    it('reads back what a model of the fold expects: raw points, minutes, latest values, counts', async () => {
      await fc.assert(
        fc.asyncProperty(seriesArb, async (series) => {
          const host = uniqueName('model');
          const now = Date.now();
          const start = now - series.startAgo;
          const rawFloor = now - SETTINGS.rawRetentionMs;
          const samples = series.values
            .map((metrics, i) => {
              const m: Record<string, Value> = { rx: metrics.rx };
              if (metrics.cpu !== undefined) m.cpu = metrics.cpu;
              return sample(host, start + i * series.step, m);
            })
            // Not near the raw retention's edge, where the fold's clock and ours could disagree.
            .filter((s) => Math.abs(s.time - rawFloor) > 60_000 && s.time < now - 1_000);
          if (samples.length === 0) return;
          const order = samples.map((_, i) => i);
          for (const [a, b] of series.swaps) {
            const [i, j] = [a % order.length, b % order.length];
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const deliveries = [...order, ...series.repeats.map((r) => order[r % order.length]!)];
          const outcomes: string[] = [];
          for (const i of deliveries) outcomes.push(await folder.fold(samples[i]!));
          expect(outcomes.filter((o) => o === 'folded')).to.have.length(samples.length);

          for (const metric of ['cpu', 'rx']) {
            const arrived = order
              .map((i) => samples[i]!)
              .filter((s) => s.metrics[metric] !== undefined);
            const expectedRaw = arrived
              .filter((s) => s.time >= rawFloor)
              .map((s) => [s.time, s.metrics[metric]!] as [number, number])
              .sort((a, b) => a[0] - b[0]);
            const gotRaw = await raw(host, metric, now - DAY, now);
            expect(gotRaw.length).to.equal(expectedRaw.length);
            gotRaw.forEach(([t, v], k) => {
              expect(t).to.equal(expectedRaw[k]![0]);
              expect(Object.is(v, expectedRaw[k]![1]), `${v} vs ${expectedRaw[k]![1]}`).to.equal(
                true,
              );
            });

            const byMinute = new Map<number, number[]>();
            for (const s of arrived) {
              const minute = s.time - (s.time % 60_000);
              byMinute.set(minute, [...(byMinute.get(minute) ?? []), s.metrics[metric]!]);
            }
            const minutes = await readMinutePoints(redis, host, metric, now - DAY, now);
            expect(minutes.map((m) => m.time)).to.deep.equal(
              [...byMinute.keys()].sort((a, b) => a - b),
            );
            for (const m of minutes) {
              const values = byMinute.get(m.time)!;
              expect(m.count).to.equal(values.length);
              expect(m.min).to.equal(Math.min(...values));
              expect(m.max).to.equal(Math.max(...values));
              const exact = exactAverage(values);
              if (exact !== null) expect(m.avg).to.equal(exact);
              else
                expect(m.avg).to.be.closeTo(
                  values.reduce((a, b) => a + b, 0) / values.length,
                  1e-6 * Math.max(1, Math.abs(m.avg)),
                );
            }

            if (arrived.length === 0) {
              expect(await redis.hget(keys.hostLatest(host), metric)).to.equal(null);
              continue;
            }
            const newest = arrived.reduce((best, s) => (s.time >= best.time ? s : best));
            const latest = parseHostLatest((await redis.hget(keys.hostLatest(host), metric))!);
            expect(latest.time).to.equal(newest.time);
            expect(Object.is(latest.value, newest.metrics[metric])).to.equal(true);
          }
          expect(Number(await redis.hget(keys.hostMeta(host), 'samples'))).to.equal(samples.length);
        }),
        { numRuns: 40, seed: 2026 },
      );
    });
  });
});
