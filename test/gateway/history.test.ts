// History and recording control, with synthetic timestamps: gaps appear exactly
// where samples are missing, averages are exact, retention trims, pauses leave
// gaps, resets wipe only what they should. Runs on servers of its own, because
// "all hosts" actions would reach other tests' data.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { RunningGateway } from '../../gateway/service.ts';
import { historyKeys } from '../../proto/store/codec.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import {
  gatewayOn,
  getJson,
  history,
  postSample,
  receiverOn,
  uniqueName,
} from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

describe('history and recording', function () {
  this.timeout(30_000);
  let nats: ServerProcess;
  let redisServer: ServerProcess;
  let redis: Redis;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  const servers = () => ({ NATS_URL: nats.url, REDIS_URL: redisServer.url });

  before(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    redis = new Redis(redisServer.url);
    [receiver, gateway] = await Promise.all([
      receiverOn({ ...servers(), HISTORY_RAW_RETENTION: '1m' }),
      gatewayOn({ ...servers(), API_TOKEN: 'sesame', HISTORY_RAW_RETENTION: '1m' }),
    ]);
  });
  after(async () => {
    redis.disconnect();
    await Promise.all([receiver.stop(), gateway.stop()]);
    for (const s of [nats, redisServer]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  const post = (host: string, time: number, metrics: Record<string, number>, interval = '1') =>
    postSample(receiver.url, metrics, {
      'Loadstar-Host': host,
      'Loadstar-Time': String(time),
      'Loadstar-Interval': interval,
    });
  const get = (path: string) => getJson(new URL(path, gateway.url));
  const act = (action: string, query: string, token = 'sesame') =>
    fetch(new URL(`api/v1/recording/${action}${query}`, gateway.url), {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  describe('raw history', () => {
    it('answers the points in range, with a null exactly where a stretch longer than 2 intervals has no sample', async () => {
      const host = uniqueName('gaps');
      const t0 = Date.now() - 40_000;
      // One sample a second, except 10 s to 16 s (six missing) and a single missed second at 25 s.
      const seconds = [...Array(30).keys()].filter((s) => !(s > 10 && s < 17) && s !== 25);
      for (const s of seconds)
        expect((await post(host, t0 + s * 1000, { cpu: s })).status).to.equal(200);
      const res = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${t0}&to=${t0 + 29_000}&step=raw`,
      );
      expect(res.status).to.equal(200);
      expect(res.body).to.include({
        host,
        metric: 'cpu',
        step: 'raw',
        interval: 1,
        gap_after_ms: 2000,
      });
      const expected: [number, number | null][] = [];
      for (const s of seconds) {
        if (s === 17) expected.push([t0 + 11_000, null]);
        expected.push([t0 + s * 1000, s]);
      }
      expect(res.body.points).to.deep.equal(expected);
      expect(res.text).to.include(`[${t0},0.0]`);
    });

    it('marks the ends of the range when no sample came for longer than the gap', async () => {
      const host = uniqueName('ends');
      const t0 = Date.now() - 30_000;
      await post(host, t0 + 10_000, { cpu: 1 });
      await post(host, t0 + 11_000, { cpu: 2 });
      const res = await get(`api/v1/history?metric=cpu&host=${host}&from=${t0}&to=${t0 + 20_000}`);
      expect(res.body.points).to.deep.equal([
        [t0, null],
        [t0 + 10_000, 1],
        [t0 + 11_000, 2],
        [t0 + 12_000, null],
      ]);
    });

    it('takes ISO-8601 times and defaults to the last hour', async () => {
      const host = uniqueName('iso');
      const t = Date.now() - 5_000;
      await post(host, t, { cpu: 3 });
      const iso = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${new Date(t - 1000).toISOString()}&to=${new Date(t + 1000).toISOString()}`,
      );
      expect(iso.body.points).to.deep.equal([[t, 3]]);
      const fallback = await get(`api/v1/history?metric=cpu&host=${host}`);
      expect(fallback.body.to - fallback.body.from).to.equal(3_600_000);
      expect(fallback.body.points.filter((p: unknown[]) => p[1] !== null)).to.deep.equal([[t, 3]]);
    });

    it('refuses bad queries with a 400 naming the parameter', async () => {
      const host = uniqueName('bad');
      await post(host, Date.now() - 1000, { cpu: 1 });
      for (const [query, words] of [
        ['', "query parameter 'metric' is missing"],
        [`metric=cpu&host=${host}&step=5m`, "'step' must be raw or 1m"],
        [`metric=cpu&host=${host}&from=yesterday`, "query parameter 'from'"],
        [`metric=cpu&host=${host}&from=2000&to=1000`, "'from' must be before 'to'"],
        [`metric=cpu&host=${host}&from=0&to=${Date.now()}&step=raw`, 'ask for step=1m'],
        ['metric=cpu', "query parameter 'host' is required"],
      ] as const) {
        const res = await get(`api/v1/history?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.body.error, query).to.include(words);
      }
    });
  });

  describe('one-minute averages', () => {
    it('computes each minute’s average, count, min and max on the server, exact to the last digit, with null minutes', async () => {
      const host = uniqueName('avg');
      const minute = Math.floor((Date.now() - 5 * 60_000) / 60_000) * 60_000;
      const first = [0.1, 0.2, 0.7, 13.37];
      const third = [99.5, 0.25];
      for (const [i, v] of first.entries()) await post(host, minute + i * 10_000, { cpu: v });
      for (const [i, v] of third.entries())
        await post(host, minute + 120_000 + i * 10_000, { cpu: v });
      const res = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${minute}&to=${minute + 179_999}&step=1m`,
      );
      expect(res.status).to.equal(200);
      expect(res.body.columns).to.deep.equal(['time', 'avg', 'count', 'min', 'max']);
      // The server sums in the order the samples arrived, as this does.
      const avg = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      expect(res.body.points).to.deep.equal([
        [minute, avg(first), 4, 0.1, 13.37],
        [minute + 60_000, null, 0, null, null],
        [minute + 120_000, avg(third), 2, 0.25, 99.5],
      ]);
    });

    it('answers a 30-day query from the aggregates, one point per minute', async () => {
      const host = uniqueName('month');
      const t = Date.now() - 1000;
      await post(host, t, { cpu: 2 });
      const res = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${t - 30 * 86_400_000}&to=${t}&step=1m`,
      );
      expect(res.status).to.equal(200);
      expect(res.body.points).to.have.length(30 * 1440 + 1);
      expect(res.body.points.filter((p: unknown[]) => p[2] !== 0)).to.deep.equal([
        [t - (t % 60_000), 2, 1, 2, 2],
      ]);
    });
  });

  describe('retention', () => {
    it('trims raw history past HISTORY_RAW_RETENTION while the minute aggregates keep it', async () => {
      const host = uniqueName('trim');
      const now = Date.now();
      // Raw retention here is one minute: a sample 90 s old is trimmed by the first fold's upkeep.
      await post(host, now - 90_000, { cpu: 1 });
      expect(await history(redis, host, 'cpu')).to.deep.equal([]);
      await post(host, now - 50_000, { cpu: 2 });
      await post(host, now - 1_000, { cpu: 3 });
      expect((await history(redis, host, 'cpu')).map(([, v]) => v)).to.deep.equal([2, 3]);
      const minutes = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${now - 120_000}&to=${now}&step=1m`,
      );
      // Whatever minutes the three samples fell in, the aggregates hold all three, the trimmed one too.
      const filled = minutes.body.points.filter((p: number[]) => p[2] !== 0);
      expect(filled.reduce((sum: number, p: number[]) => sum + p[2]!, 0)).to.equal(3);
      expect(Math.min(...filled.map((p: number[]) => p[3]!))).to.equal(1);
    });

    it('answers a raw range wholly older than HISTORY_RAW_RETENTION with no points', async () => {
      const host = uniqueName('past');
      const now = Date.now();
      await post(host, now - 1_000, { cpu: 1 });
      // Raw retention here is one minute: from -3 h to -2 h is all past it, hours before its first block.
      const res = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${now - 3 * 3_600_000}&to=${now - 2 * 3_600_000}`,
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.points).to.deep.equal([]);
    });

    it('lets Redis expire each minute block HISTORY_1M_RETENTION after its day ends, and each raw block HISTORY_RAW_RETENTION after its hour ends', async () => {
      const host = uniqueName('ttl');
      const now = Date.now();
      // A sample in the minute before this one, then one now: the first minute closes into its day's block.
      const closed = now - (now % 60_000) - 1_000;
      await post(host, closed, { cpu: 1 });
      await post(host, now - 100, { cpu: 2 });
      const day = Math.floor(closed / 86_400_000);
      const minuteTtl = await redis.pttl(historyKeys.minuteBlock(host, day, 'cpu'));
      const minuteExpected = (day + 1) * 86_400_000 + 30 * 86_400_000 - Date.now();
      expect(minuteTtl).to.be.within(minuteExpected - 5_000, minuteExpected + 5_000);
      const hour = Math.floor((now - 100) / 3_600_000);
      const rawTtl = await redis.pttl(historyKeys.rawBlock(host, hour, 'cpu'));
      const rawExpected = (hour + 1) * 3_600_000 + 60_000 - Date.now();
      expect(rawTtl).to.be.within(rawExpected - 5_000, rawExpected + 5_000);
    });
  });

  describe('recording control', () => {
    it('leaves a gap in history while a host is paused, yet keeps its latest value current', async () => {
      const host = uniqueName('paused');
      const now = Date.now();
      await post(host, now - 3_000, { cpu: 1 });
      expect((await act('pause', `?host=${host}`)).status).to.equal(200);
      const status = await get(`api/v1/recording?host=${host}`);
      expect(status.body).to.include({ host, recording: false, paused_by: 'host' });
      await post(host, Date.now() + 10, { cpu: 2 });
      expect((await get(`?topics=cpu&host=${host}`)).body).to.deep.equal({ cpu: 2 });
      expect((await act('resume', `?host=${host}`)).status).to.equal(200);
      const later = Date.now() + 1_000;
      await post(host, later, { cpu: 3 });
      const res = await get(
        `api/v1/history?metric=cpu&host=${host}&from=${now - 3_000}&to=${later}`,
      );
      expect(res.body.points).to.deep.equal([
        [now - 3_000, 1],
        [now - 2_000, null],
        [later, 3],
      ]);
      const hosts = await get('api/v1/hosts');
      const entry = hosts.body.hosts.find((h: { host: string }) => h.host === host);
      expect(entry.recording.recording).to.equal(true);
      expect(entry.samples_stored).to.equal(2);
    });

    it('pauses and resumes all hosts, new ones included', async () => {
      const [known, fresh] = [uniqueName('known'), uniqueName('fresh')];
      await post(known, Date.now() - 1_000, { cpu: 1 });
      try {
        expect((await act('pause', '')).status).to.equal(200);
        expect((await get(`api/v1/recording?host=${known}`)).body).to.include({
          recording: false,
          paused_by: 'all',
        });
        await post(known, Date.now() + 5, { cpu: 2 });
        await post(fresh, Date.now() + 5, { cpu: 2 });
        expect(await history(redis, known, 'cpu')).to.have.length(1);
        expect(await history(redis, fresh, 'cpu')).to.have.length(0);
      } finally {
        expect((await act('resume', '')).status).to.equal(200);
      }
      await post(fresh, Date.now() + 500, { cpu: 3 });
      expect(await history(redis, fresh, 'cpu')).to.have.length(1);
    });

    it('resets one host’s history and nothing else, and records again afterwards', async () => {
      const [a, b] = [uniqueName('wiped'), uniqueName('kept')];
      const t = Date.now() - 2_000;
      for (const host of [a, b]) await post(host, t, { cpu: 5, mem: 6 });
      const refused = await act('reset', `?host=${a}`);
      expect(refused.status).to.equal(400);
      expect(((await refused.json()) as { error: string }).error).to.include('confirm=yes');
      expect((await act('reset', `?host=${a}&confirm=yes`)).status).to.equal(200);
      expect(await history(redis, a, 'cpu')).to.deep.equal([]);
      expect(await history(redis, a, 'mem')).to.deep.equal([]);
      const minutes = async (host: string) =>
        (
          await get(`api/v1/history?metric=mem&host=${host}&from=${t - 60_000}&to=${t}&step=1m`)
        ).body.points.filter((p: number[]) => p[2] !== 0);
      expect(await minutes(a)).to.deep.equal([]);
      expect(await history(redis, b, 'cpu')).to.have.length(1);
      expect(await minutes(b)).to.deep.equal([[t - (t % 60_000), 6, 1, 6, 6]]);
      // Latest values are not history: they stay.
      expect((await get(`?topics=cpu&host=${a}`)).body).to.deep.equal({ cpu: 5 });
      // A late sample from before the reset stays out; a new one is recorded.
      await post(a, t + 1, { cpu: 7 });
      await post(a, Date.now() + 500, { cpu: 8 });
      expect((await history(redis, a, 'cpu')).map(([, v]) => v)).to.deep.equal([8]);
    });

    it('resets all hosts', async () => {
      const hosts = [uniqueName('all'), uniqueName('all')];
      for (const host of hosts) await post(host, Date.now() - 1_000, { cpu: 1 });
      expect((await act('reset', '?confirm=yes')).status).to.equal(200);
      for (const host of hosts) expect(await history(redis, host, 'cpu')).to.deep.equal([]);
    });

    it('answers 401 without the API token, or with a wrong one, and changes nothing', async () => {
      const host = uniqueName('guarded');
      await post(host, Date.now() - 1_000, { cpu: 1 });
      const missing = await act('pause', `?host=${host}`, '');
      expect(missing.status).to.equal(401);
      expect(missing.headers.get('www-authenticate')).to.include('Bearer');
      expect(((await missing.json()) as { error: string }).error).to.include('API token');
      expect((await act('pause', `?host=${host}`, 'wrong')).status).to.equal(401);
      expect((await get(`api/v1/recording?host=${host}`)).body.recording).to.equal(true);
    });

    it('keeps the recording state across a gateway restart', async () => {
      const host = uniqueName('durable');
      await post(host, Date.now() - 1_000, { cpu: 1 });
      expect((await act('pause', `?host=${host}`)).status).to.equal(200);
      await gateway.stop();
      gateway = await gatewayOn({ ...servers(), API_TOKEN: 'sesame', HISTORY_RAW_RETENTION: '1m' });
      expect((await get(`api/v1/recording?host=${host}`)).body).to.include({
        recording: false,
        paused_by: 'host',
      });
      expect((await act('resume', `?host=${host}`)).status).to.equal(200);
    });
  });

  it('answers for the only host when host= is left out and one host reports', async () => {
    const [ownNats, ownRedis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: ownNats.url, REDIS_URL: ownRedis.url };
    const [r, g] = await Promise.all([receiverOn(env), gatewayOn(env)]);
    try {
      const t = Date.now() - 1_000;
      await postSample(r.url, { cpu: 4 }, { 'Loadstar-Host': 'solo', 'Loadstar-Time': String(t) });
      const res = await getJson(new URL('api/v1/history?metric=cpu', g.url));
      expect(res.body.host).to.equal('solo');
      expect(res.body.points.filter((p: unknown[]) => p[1] !== null)).to.deep.equal([[t, 4]]);
    } finally {
      await Promise.all([r.stop(), g.stop()]);
      for (const s of [ownNats, ownRedis]) {
        await s.stop();
        removeDir(s.dir);
      }
    }
  });
});
