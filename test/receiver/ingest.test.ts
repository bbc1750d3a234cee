import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { RunningGateway } from '../../gateway/service.ts';
import { keys } from '../../proto/keys.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import {
  gatewayOn,
  getJson,
  history,
  postSample,
  receiverOn,
  redisClient,
  uniqueName,
} from '../harness/pipeline.ts';

describe('receiver', () => {
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let redis: Redis;

  before(async () => {
    [receiver, gateway] = await Promise.all([
      receiverOn({ MAX_BODY_BYTES: '4KiB', MAX_METRICS_PER_SAMPLE: '50' }),
      gatewayOn(),
    ]);
    redis = redisClient();
  });
  after(async () => {
    redis.disconnect();
    await Promise.all([receiver.stop(), gateway.stop()]);
  });

  const topics = async (names: string[], host?: string) =>
    getJson(
      new URL(
        `?topics=${names.map(encodeURIComponent).join(',')}${host ? `&host=${host}` : ''}`,
        gateway.url,
      ),
    );

  describe('the HTTP contract', () => {
    it('accepts the flat JSON of docs/CONTRACT.md and serves integral values back as floats', async () => {
      const host = uniqueName('host');
      const cpu = uniqueName('cpu');
      const res = await postSample(receiver.url, `{"${cpu}": 1.0, "gpu": 1}`, {
        'Loadstar-Host': host,
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ accepted: 1, duplicate: false });
      const q = await topics([cpu, 'gpu'], host);
      expect(q.status).to.equal(200);
      expect(q.text).to.equal(`{"${cpu}":1.0,"gpu":1.0}`);
    });

    it('keeps arbitrary names and many names per sample', async () => {
      const host = uniqueName('host');
      const metrics: Record<string, number> = {};
      for (let i = 0; i < 40; i++) metrics[`X7Q2LZ0B.${i}:${uniqueName('m')}`] = i + 0.25;
      expect((await postSample(receiver.url, metrics, { 'Loadstar-Host': host })).status).to.equal(
        200,
      );
      const q = await topics(Object.keys(metrics), host);
      expect(q.body).to.deep.equal(metrics);
    });

    it('answers only the requested names, with the newest value from any host unless host= narrows it', async () => {
      const metric = uniqueName('load');
      const [a, b] = [uniqueName('a'), uniqueName('b')];
      const now = Date.now();
      await postSample(
        receiver.url,
        { [metric]: 10 },
        { 'Loadstar-Host': a, 'Loadstar-Time': String(now - 2000) },
      );
      await postSample(
        receiver.url,
        { [metric]: 20, other: 1 },
        { 'Loadstar-Host': b, 'Loadstar-Time': String(now - 1000) },
      );
      expect((await topics([metric])).text).to.equal(`{"${metric}":20.0}`);
      expect((await topics([metric], a)).text).to.equal(`{"${metric}":10.0}`);
      expect((await topics([metric], b)).text).to.equal(`{"${metric}":20.0}`);
    });

    it('names the post’s peer address as its host when no Loadstar-Host header is sent', async () => {
      const metric = uniqueName('m');
      expect((await postSample(receiver.url, { [metric]: 3 })).status).to.equal(200);
      expect((await topics([metric], '127.0.0.1')).text).to.equal(`{"${metric}":3.0}`);
    });
  });

  describe('bad input', () => {
    const bad: [string, string, Record<string, string>, number, string][] = [
      [
        'a wrong content type',
        '{"cpu": 1}',
        { 'content-type': 'text/plain' },
        415,
        'text/plain is not application/json',
      ],
      ['no content type', '{"cpu": 1}', { 'content-type': '' }, 415, 'Content-Type is missing'],
      ['a gzip body', '{"cpu": 1}', { 'content-encoding': 'gzip' }, 415, 'gzip is not supported'],
      ['an empty body', '', {}, 400, 'body is empty'],
      ['an array', '[{"cpu": 1}]', {}, 400, 'body is an array'],
      ['a nested object', '{"cpu": {"user": 1}}', {}, 400, "metric 'cpu' is a nested object"],
      ['a string value', '{"cpu": "high"}', {}, 400, "metric 'cpu' is a string"],
      ['a __proto__ key', '{"__proto__": 1}', {}, 400, "'__proto__' is reserved"],
      ['a constructor key', '{"constructor": 1}', {}, 400, "'constructor' is reserved"],
      ['broken JSON', '{"cpu": 1', {}, 400, "expected ',' or '}'"],
      ['a name with a space', '{"c p u": 1}', {}, 400, "'c p u' has characters outside"],
      ['a huge body', `{"cpu": 1, "pad": ${'1'.repeat(5000)}}`, {}, 413, 'larger than the limit'],
      [
        'too many names',
        JSON.stringify(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`m${i}`, i]))),
        {},
        413,
        'MAX_METRICS_PER_SAMPLE',
      ],
      [
        'a bad host header',
        '{"cpu": 1}',
        { 'loadstar-host': 'web 01' },
        400,
        "header Loadstar-Host 'web 01'",
      ],
      [
        'a bad time header',
        '{"cpu": 1}',
        { 'loadstar-time': 'yesterday' },
        400,
        'header Loadstar-Time',
      ],
      [
        'a bad sample id',
        '{"cpu": 1}',
        { 'loadstar-sample-id': 'a/b' },
        400,
        'header Loadstar-Sample-Id',
      ],
      [
        'a bad interval',
        '{"cpu": 1}',
        { 'loadstar-interval': '-5' },
        400,
        'header Loadstar-Interval',
      ],
      [
        'a time in the future',
        '{"cpu": 1}',
        { 'loadstar-time': String(Date.now() + 3_600_000) },
        400,
        'MAX_CLOCK_SKEW',
      ],
      [
        'a time older than SAMPLE_MAX_AGE',
        '{"cpu": 1}',
        { 'loadstar-time': String(Date.now() - 2 * 86_400_000) },
        422,
        'SAMPLE_MAX_AGE',
      ],
    ];
    for (const [what, body, headers, status, words] of bad) {
      it(`answers ${status} with a JSON error for ${what}`, async () => {
        const res = await postSample(receiver.url, body, {
          'loadstar-host': uniqueName('bad'),
          ...headers,
        });
        expect(res.status).to.equal(status);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(res.body.error).to.be.a('string').that.includes(words);
      });
    }

    it('answers 405 for GET on the ingest path and 404 elsewhere, as JSON', async () => {
      const get = await getJson(receiver.url);
      expect(get.status).to.equal(405);
      expect(get.body.error).to.be.a('string');
      const missing = await getJson(new URL('/nowhere', receiver.url));
      expect(missing.status).to.equal(404);
      expect(missing.body.error).to.include('no route');
    });

    it('stays up and keeps what it accepted after a stream of bad posts', async () => {
      const host = uniqueName('kept');
      const metric = uniqueName('m');
      expect(
        (await postSample(receiver.url, { [metric]: 42 }, { 'Loadstar-Host': host })).status,
      ).to.equal(200);
      await Promise.all(
        bad.map(([, body, headers]) =>
          postSample(receiver.url, body, { 'Loadstar-Host': host, ...headers }),
        ),
      );
      expect((await topics([metric], host)).text).to.equal(`{"${metric}":42.0}`);
      expect(
        (await postSample(receiver.url, { [metric]: 43 }, { 'Loadstar-Host': host })).status,
      ).to.equal(200);
      expect(await history(redis, host, metric)).to.have.length(2);
    });

    it('counts rejections by reason in /metrics', async () => {
      const res = await fetch(new URL('/metrics', receiver.url));
      const text = await res.text();
      expect(text).to.match(/loadstar_samples_rejected_total\{reason="content_type"[^}]*\} [1-9]/);
      expect(text).to.match(/loadstar_samples_rejected_total\{reason="too_large"[^}]*\} [1-9]/);
    });
  });

  describe('deduplication', () => {
    it('stores a retried post once: same host and sample id', async () => {
      const host = uniqueName('retry');
      const headers = {
        'Loadstar-Host': host,
        'Loadstar-Sample-Id': 'sample-1',
        'Loadstar-Time': String(Date.now() - 500),
      };
      const first = await postSample(receiver.url, { cpu: 5 }, headers);
      const second = await postSample(receiver.url, { cpu: 5 }, headers);
      expect(first.status).to.equal(200);
      expect(first.body.duplicate).to.equal(false);
      expect(second.status).to.equal(200);
      expect(second.body.duplicate).to.equal(true);
      expect(await history(redis, host, 'cpu')).to.have.length(1);
      expect(await redis.hget(keys.hostMeta(host), 'samples')).to.equal('1');
    });

    it('keeps two samples with different ids at different times', async () => {
      const host = uniqueName('two');
      const t = Date.now() - 1000;
      await postSample(
        receiver.url,
        { cpu: 1 },
        { 'Loadstar-Host': host, 'Loadstar-Sample-Id': 'a', 'Loadstar-Time': String(t) },
      );
      await postSample(
        receiver.url,
        { cpu: 2 },
        { 'Loadstar-Host': host, 'Loadstar-Sample-Id': 'b', 'Loadstar-Time': String(t + 1) },
      );
      expect(await history(redis, host, 'cpu')).to.deep.equal([
        [t, 1],
        [t + 1, 2],
      ]);
    });

    it('never lets a late sample replace a newer latest value', async () => {
      const host = uniqueName('late');
      const metric = uniqueName('m');
      const t = Date.now() - 5000;
      await postSample(
        receiver.url,
        { [metric]: 2 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(t + 1000) },
      );
      await postSample(
        receiver.url,
        { [metric]: 1 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(t) },
      );
      expect((await topics([metric], host)).text).to.equal(`{"${metric}":2.0}`);
      expect((await topics([metric])).text).to.equal(`{"${metric}":2.0}`);
      expect(await history(redis, host, metric)).to.deep.equal([
        [t, 1],
        [t + 1000, 2],
      ]);
    });
  });

  describe('read-your-writes', () => {
    it('shows each value to a GET issued after its 200, for 200 concurrent post-then-get pairs', async function () {
      this.timeout(60_000);
      const host = uniqueName('ryw');
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const metric = `ryw.${i}.${uniqueName('m')}`;
          const value = i + 0.5;
          const post = await postSample(
            receiver.url,
            { [metric]: value },
            { 'Loadstar-Host': host },
          );
          if (post.status !== 200) {
            failures.push(`post ${i}: ${post.status}`);
            return;
          }
          const q = await topics([metric]);
          if (q.body[metric] !== value) failures.push(`get ${i}: ${q.text}`);
        }),
      );
      expect(failures).to.deep.equal([]);
    });
  });

  describe('batches', () => {
    it('accepts a batch of samples, each with its own host, id and time, in order', async () => {
      const host = uniqueName('batch');
      const t = Date.now() - 10_000;
      const samples = Array.from({ length: 20 }, (_, i) => ({
        id: `b${i}`,
        time: t + i * 100,
        interval: 0.1,
        metrics: { seq: i },
      }));
      const res = await fetch(new URL(`${receiver.url.pathname}/batch`, receiver.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'loadstar-host': host },
        body: JSON.stringify({ samples }),
      });
      const body = (await res.json()) as {
        accepted: number;
        rejected: unknown[];
        seqs: [number, number][];
      };
      expect(res.status).to.equal(200);
      expect(body.accepted).to.equal(20);
      expect(body.rejected).to.deep.equal([]);
      const seqs = body.seqs.map(([, seq]) => seq);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
      expect((await history(redis, host, 'seq')).map(([, v]) => v)).to.deep.equal(
        samples.map((s) => s.metrics.seq),
      );
    });

    it('accepts the good samples of a batch and names each bad one by index', async () => {
      const host = uniqueName('mixed');
      const res = await fetch(new URL(`${receiver.url.pathname}/batch`, receiver.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'loadstar-host': host },
        body: JSON.stringify({
          samples: [
            { metrics: { ok: 1 } },
            { metrics: { bad: 'x' } },
            { metrics: { ok: 2 }, time: 'never' },
            { metrics: { ok: 3 } },
          ],
        }),
      });
      const body = (await res.json()) as {
        accepted: number;
        rejected: { index: number; error: string }[];
      };
      expect(res.status).to.equal(200);
      expect(body.accepted).to.equal(2);
      expect(body.rejected.map((r) => r.index)).to.deep.equal([1, 2]);
      expect(body.rejected[0]!.error).to.include("metric 'bad' is a string");
      expect(body.rejected[1]!.error).to.include('field time');
    });

    it('refuses a batch that is not {"samples": [...]}', async () => {
      const res = await fetch(new URL(`${receiver.url.pathname}/batch`, receiver.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[1, 2]',
      });
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.include('{"samples": [...]}');
    });
  });
});
