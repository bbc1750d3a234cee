import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { removeDir, startRedis } from '../harness/servers.ts';

describe('gateway HTTP', () => {
  let receiver: RunningReceiver;
  let gateway: RunningGateway;

  before(async () => {
    [receiver, gateway] = await Promise.all([
      receiverOn(),
      gatewayOn({ MAX_TOPICS: '5', STALE_FACTOR: '3' }),
    ]);
  });
  after(async () => {
    await Promise.all([receiver.stop(), gateway.stop()]);
  });

  const get = (path: string) => getJson(new URL(path, gateway.url));

  describe('GET ?topics=', () => {
    it('answers null for a name that has no value yet', async () => {
      const name = uniqueName('never');
      const res = await get(`?topics=${name}`);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(`{"${name}":null}`);
    });

    for (const [query, words] of [
      ['', "query parameter 'topics' is missing or empty"],
      ['?topics=', "query parameter 'topics' is missing or empty"],
      ['?topics=,,', "query parameter 'topics' is missing or empty"],
      ['?topics=c%20pu', "topic 'c pu' has characters outside"],
      ['?topics=__proto__', "topic '__proto__' is reserved"],
      ['?topics=a,b,c,d,e,f', 'the limit is 5'],
      ['?topics=cpu&host=a%20b', "query parameter 'host' 'a b'"],
      ['?topics=cpu&host=a&host=b', "'host' is given more than once"],
    ] as const) {
      it(`answers 400 naming the problem for '${query}'`, async () => {
        const res = await get(query);
        expect(res.status).to.equal(400);
        expect(res.body.error).to.include(words);
      });
    }

    it('accepts repeated topics parameters and drops repeated names', async () => {
      const host = uniqueName('rep');
      await postSample(receiver.url, { a1: 1, b1: 2 }, { 'Loadstar-Host': host });
      const res = await get(`?topics=a1&topics=b1,a1&host=${host}`);
      expect(res.text).to.equal('{"a1":1.0,"b1":2.0}');
    });
  });

  describe('GET api/v1/latest', () => {
    it('gives value, time, host, age, interval and a stale flag per name', async () => {
      const host = uniqueName('fresh');
      const metric = uniqueName('m');
      const time = Date.now() - 1000;
      await postSample(
        receiver.url,
        { [metric]: 7 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '5' },
      );
      const res = await get(`api/v1/latest?topics=${metric},nothing-here`);
      expect(res.status).to.equal(200);
      expect(res.text).to.include('"value":7.0');
      expect(res.body[metric]).to.deep.include({
        value: 7,
        host,
        time_ms: time,
        time: new Date(time).toISOString(),
        interval: 5,
        stale: false,
      });
      expect(res.body[metric].age_seconds).to.be.within(0.9, 60);
      expect(res.body['nothing-here']).to.equal(null);
    });

    it('marks a value stale once it is older than STALE_FACTOR of its host’s interval', async () => {
      const host = uniqueName('dead');
      const metric = uniqueName('m');
      // A host that declared a 1 s interval and last reported 10 s ago is dead: 10 > 3 × 1.
      await postSample(
        receiver.url,
        { [metric]: 3 },
        {
          'Loadstar-Host': host,
          'Loadstar-Time': String(Date.now() - 10_000),
          'Loadstar-Interval': '1',
        },
      );
      const res = await get(`api/v1/latest?topics=${metric}&host=${host}`);
      expect(res.body[metric]).to.include({ stale: true, host });
    });
  });

  describe('GET api/v1/hosts', () => {
    it('lists hosts with last-seen time, interval, sample count and staleness', async () => {
      const host = uniqueName('listed');
      const time = Date.now() - 2000;
      await postSample(
        receiver.url,
        { cpu: 1 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(time - 5000), 'Loadstar-Interval': '5' },
      );
      await postSample(
        receiver.url,
        { cpu: 2 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '5' },
      );
      const res = await get('api/v1/hosts');
      const entry = res.body.hosts.find((h: { host: string }) => h.host === host);
      expect(entry).to.deep.include({
        host,
        last_seen_ms: time,
        interval: 5,
        samples: 2,
        stale: false,
      });
      expect(entry.first_seen).to.equal(new Date(time - 5000).toISOString());
    });
  });

  describe('health and metrics', () => {
    it('answers /healthz and /readyz', async () => {
      expect((await get('healthz')).body).to.deep.equal({ status: 'ok' });
      expect((await get('readyz')).body).to.deep.equal({ ready: true, nats: true, redis: true });
    });

    it('shows the whole pipeline’s counters on /metrics in Prometheus text', async function () {
      this.timeout(20_000);
      await postSample(receiver.url, { cpu: 1 }, { 'Loadstar-Host': uniqueName('counted') });
      await get('?topics=cpu');
      await eventually(
        async () => {
          const res = await fetch(new URL('metrics', gateway.url));
          expect(res.headers.get('content-type')).to.match(/^text\/plain/);
          const text = await res.text();
          expect(text).to.match(
            /loadstar_samples_received_total\{[^}]*service="receiver"[^}]*\} [1-9]/,
          );
          expect(text).to.match(/loadstar_samples_published_total\{[^}]*\} [1-9]/);
          expect(text).to.match(
            /loadstar_http_request_duration_seconds_count\{[^}]*service="gateway"[^}]*\} [1-9]/,
          );
          expect(text).to.include('# TYPE loadstar_samples_rejected_total counter');
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
    });
  });
});

describe('gateway while Redis is down', function () {
  this.timeout(30_000);

  it('answers 503 with Retry-After and reports not ready, then recovers', async () => {
    const redis = await startRedis();
    const gateway = await gatewayOn({ REDIS_URL: redis.url });
    try {
      expect((await getJson(new URL('?topics=cpu', gateway.url))).status).to.equal(200);
      await redis.stop();
      // Each read path turns a Redis failure into 503, not 500: history with host= reads the host's interval first.
      for (const path of [
        'api/v1/history?metric=cpu&host=web-01',
        'api/v1/latest?topics=cpu',
        'api/v1/hosts',
      ]) {
        const away = await fetch(new URL(path, gateway.url));
        expect(away.status, path).to.equal(503);
        expect(away.headers.get('retry-after'), path).to.not.equal(null);
      }
      const res = await fetch(new URL('?topics=cpu', gateway.url));
      expect(res.status).to.equal(503);
      expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(((await res.json()) as { error: string }).error).to.include('Redis');
      const ready = await getJson(new URL('readyz', gateway.url));
      expect(ready.status).to.equal(503);
      expect(ready.body.redis).to.equal(false);
      await redis.restart();
      await eventually(
        async () =>
          expect((await getJson(new URL('?topics=cpu', gateway.url))).status).to.equal(200),
        {
          timeoutMs: 15_000,
        },
      );
    } finally {
      await gateway.stop();
      await redis.stop();
      removeDir(redis.dir);
    }
  });
});
