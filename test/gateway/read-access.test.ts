// Read tokens (READ_TOKENS) and the metrics token (METRICS_TOKEN): every kind
// of read of the gateway refused with 401 without or with a wrong token and
// answered with a right one; what stays open; gRPC UNAUTHENTICATED then OK;
// the dashboard in Chromium asking for the token and using it, its live
// stream included.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import type { RunningGateway } from '../../gateway/service.ts';
import {
  createLoadstarClient,
  type LatestReply__Output,
  type LoadstarClient,
  type SampleEvent__Output,
} from '../../proto/grpc.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import type { RunningStore } from '../../receiver/store/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, postSample, receiverOn, storeOn, uniqueName } from '../harness/pipeline.ts';

const newToken = () => randomBytes(18).toString('base64url');

interface Answer {
  status: number;
  challenge: string | null;
  type: string;
  text: string;
}

async function fetchAnswer(url: URL, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    type: res.headers.get('content-type') ?? '',
    text,
  };
}

function latest(
  client: LoadstarClient,
  topics: string[],
  host: string,
  metadata = new grpc.Metadata(),
): Promise<LatestReply__Output> {
  return new Promise((resolve, reject) =>
    client.Latest({ topics, host }, metadata, (err, reply) =>
      err ? reject(err) : resolve(reply!),
    ),
  );
}

const withToken = (token: string) => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
};

describe('read tokens (READ_TOKENS) and the metrics token (METRICS_TOKEN)', function () {
  this.timeout(60_000);
  const readers = [newToken(), newToken()];
  const apiToken = newToken();
  const metricsToken = newToken();
  const host = uniqueName('reader');
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let store: RunningStore;

  before(async () => {
    const guards = { METRICS_TOKEN: metricsToken };
    [receiver, gateway, store] = await Promise.all([
      receiverOn(guards),
      gatewayOn({ ...guards, READ_TOKENS: readers.join(','), API_TOKEN: apiToken }),
      storeOn(guards),
    ]);
    const posted = await postSample(receiver.url, { cpu: 1.5 }, { 'Loadstar-Host': host });
    expect(posted.status).to.equal(200);
  });
  after(() => Promise.all([receiver, gateway, store].map((s) => s?.stop())));

  const at = (path: string) => new URL(path, gateway.url);
  const hour = () => {
    const now = Math.floor(Date.now() / 1000);
    return `start=${now - 3600}&end=${now}&step=60`;
  };
  /** Each kind of read: the contract's, the API's, Prometheus', federation, history, incidents. */
  const reads: [string, () => string][] = [
    ['?topics= (the contract)', () => `?topics=cpu&host=${host}`],
    ['api/v1/latest', () => `api/v1/latest?topics=cpu&host=${host}`],
    ['api/v1/hosts', () => 'api/v1/hosts'],
    ['api/v1/summary', () => 'api/v1/summary'],
    ['api/v1/summary?host=', () => `api/v1/summary?host=${host}`],
    ['api/v1/metrics', () => `api/v1/metrics?host=${host}`],
    ['api/v1/history', () => `api/v1/history?host=${host}&metric=cpu`],
    ['api/v1/recording', () => 'api/v1/recording'],
    ['api/v1/incidents', () => 'api/v1/incidents'],
    ['api/v1/silences', () => 'api/v1/silences'],
    ['api/v1/receivers', () => 'api/v1/receivers'],
    ['Prometheus api/v1/query', () => `api/v1/query?query=cpu`],
    ['Prometheus api/v1/query_range', () => `api/v1/query_range?query=cpu&${hour()}`],
    ['Prometheus api/v1/labels', () => 'api/v1/labels'],
    ['/federate', () => `federate?match[]=${encodeURIComponent(`{host="${host}"}`)}`],
  ];

  for (const [what, path] of reads) {
    it(`answers ${what} with 401 without a token and with a wrong one, 200 with each read token and API_TOKEN`, async () => {
      const none = await fetchAnswer(at(path()));
      expect(none.status, none.text).to.equal(401);
      expect(none.challenge).to.equal('Bearer realm="loadstar", scope="read"');
      expect(none.type).to.match(/^application\/json/);
      expect(JSON.parse(none.text).error).to.include('needs a read token');

      const wrong = await fetchAnswer(at(path()), {
        headers: { authorization: `Bearer ${newToken()}` },
      });
      expect(wrong.status).to.equal(401);
      expect(wrong.challenge).to.equal(
        'Bearer realm="loadstar", scope="read", error="invalid_token"',
      );
      expect(JSON.parse(wrong.text).error).to.equal(
        'the read token is not known to this gateway (revoked, or mistyped)',
      );
      // The metrics token is not a read token.
      const metrics = await fetchAnswer(at(path()), {
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      expect(metrics.status).to.equal(401);

      for (const token of [...readers, apiToken]) {
        const right = await fetchAnswer(at(path()), {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(right.status, right.text).to.equal(200);
      }
    });
  }

  it('answers the contract read with the value once the token is right', async () => {
    const right = await fetchAnswer(at(`?topics=cpu&host=${host}`), {
      headers: { authorization: `Bearer ${readers[1]}` },
    });
    expect(right.text).to.equal('{"cpu":1.5}');
  });

  it('takes the token of the live stream (SSE) from ?token=, and from nowhere else in a query', async () => {
    const stream = (query: string, accept = 'text/event-stream') =>
      fetch(at(`api/v1/stream?host=${host}${query}`), { headers: { accept } });
    const none = await stream('');
    expect(none.status).to.equal(401);
    expect(JSON.parse(await none.text()).error).to.include('needs a read token');
    const wrong = await stream(`&token=${newToken()}`);
    expect(wrong.status).to.equal(401);
    await wrong.body?.cancel();

    const right = await stream(`&token=${readers[0]}`);
    expect(right.status).to.equal(200);
    expect(right.headers.get('content-type')).to.match(/^text\/event-stream/);
    const reader = right.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).to.include(': connected');
    await reader.cancel();

    // A query token is for EventSource only: a JSON read cannot carry it in its URL.
    const inQuery = await fetchAnswer(at(`?topics=cpu&host=${host}&token=${readers[0]}`));
    expect(inQuery.status).to.equal(401);
  });

  it('keeps /healthz, /readyz, the API document, /docs and the dashboard page and files open', async () => {
    for (const path of [
      'healthz',
      'readyz',
      'openapi.json',
      'docs',
      'dashboard/app.js',
      'dashboard/access.js',
    ]) {
      const got = await fetchAnswer(at(path));
      expect(got.status, `${path}: ${got.text.slice(0, 200)}`).to.equal(200);
    }
    const page = await fetchAnswer(at(''), { headers: { accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('dashboard/access.js');
    // The same path asked for values is a read.
    expect(
      (await fetchAnswer(at('?topics=cpu'), { headers: { accept: 'text/html' } })).status,
    ).to.equal(401);
  });

  it('guards /metrics of the gateway, the receiver and the storage consumer with METRICS_TOKEN only', async () => {
    for (const base of [gateway.url, receiver.url, store.url]) {
      const url = new URL(base.href.startsWith(gateway.url.href) ? 'metrics' : '/metrics', base);
      const none = await fetchAnswer(url);
      expect(none.status, url.href).to.equal(401);
      expect(none.challenge).to.equal('Bearer realm="loadstar", scope="metrics"');
      expect(JSON.parse(none.text).error).to.equal(
        'metrics need the metrics token: Authorization: Bearer <METRICS_TOKEN>',
      );
      const reader = await fetchAnswer(url, { headers: { authorization: `Bearer ${readers[0]}` } });
      expect(reader.status).to.equal(401);
      expect(JSON.parse(reader.text).error).to.equal('the metrics token is wrong');
      const right = await fetchAnswer(url, {
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      expect(right.status).to.equal(200);
      expect(right.text).to.include('# TYPE loadstar_');
    }
  });

  it('leaves /metrics open without METRICS_TOKEN, and every read open without READ_TOKENS', async () => {
    const open = await gatewayOn();
    try {
      expect((await fetchAnswer(new URL('metrics', open.url))).status).to.equal(200);
      expect((await fetchAnswer(new URL(`?topics=cpu&host=${host}`, open.url))).text).to.equal(
        '{"cpu":1.5}',
      );
    } finally {
      await open.stop();
    }
  });

  it('asks for a write: no token is a read refusal, a read token is not API_TOKEN, API_TOKEN writes', async () => {
    const pause = (headers: Record<string, string>) =>
      fetchAnswer(at(`api/v1/recording/pause?host=${host}`), { method: 'POST', headers });
    const none = await pause({});
    expect(none.status).to.equal(401);
    expect(none.challenge).to.equal('Bearer realm="loadstar", scope="read"');
    const reader = await pause({ authorization: `Bearer ${readers[0]}` });
    expect(reader.status).to.equal(401);
    expect(JSON.parse(reader.text).error).to.equal('the API token is wrong');
    const admin = await pause({ authorization: `Bearer ${apiToken}` });
    expect(admin.status, admin.text).to.equal(200);
    const resumed = await fetchAnswer(at(`api/v1/recording/resume?host=${host}`), {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}` },
    });
    expect(resumed.status).to.equal(200);
  });

  it('ends gRPC calls without a read token with UNAUTHENTICATED, and answers with one', async () => {
    const client = createLoadstarClient(gateway.grpcAddress);
    try {
      for (const metadata of [
        new grpc.Metadata(),
        withToken(newToken()),
        withToken(metricsToken),
      ]) {
        const err = await latest(client, ['cpu'], host, metadata).then(
          () => null,
          (e: grpc.ServiceError) => e,
        );
        expect(err?.code).to.equal(grpc.status.UNAUTHENTICATED);
      }
      const refused = await latest(client, ['cpu'], host).catch((e: grpc.ServiceError) => e);
      expect((refused as grpc.ServiceError).details).to.include('needs a read token');

      for (const token of [...readers, apiToken]) {
        const reply = await latest(client, ['cpu'], host, withToken(token));
        expect(reply.readings[0]).to.include({ topic: 'cpu', value: 1.5, host });
      }

      // A stream: refused without a token, events with one.
      const denied = await new Promise<grpc.ServiceError>((resolve) => {
        const call = client.Subscribe({ hosts: [host] });
        call.on('error', resolve);
      });
      expect(denied.code).to.equal(grpc.status.UNAUTHENTICATED);
      const listening = gateway.feed.listenerCount;
      const call = client.Subscribe({ hosts: [host] }, withToken(readers[0]!));
      const event = new Promise<SampleEvent__Output>((resolve, reject) => {
        call.on('data', resolve);
        call.on('error', (e: grpc.ServiceError) => {
          if (e.code !== grpc.status.CANCELLED) reject(e);
        });
      });
      await eventually(() => expect(gateway.feed.listenerCount).to.be.above(listening));
      await postSample(receiver.url, { cpu: 2.5 }, { 'Loadstar-Host': host });
      expect((await event).metrics).to.deep.equal({ cpu: 2.5 });
      call.cancel();
    } finally {
      client.close();
    }
  });

  describe('the dashboard in a browser', () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
    });
    after(() => browser?.close());

    it('asks for the read token (again when it is wrong), keeps it, and sends it with reads and the live stream', async () => {
      const page = await browser.newPage();
      const asked: string[] = [];
      const answers = [newToken(), readers[1]!];
      page.on('dialog', (dialog) => {
        asked.push(dialog.message());
        void dialog.accept(answers.shift() ?? '');
      });
      const streamUrls: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('api/v1/stream')) streamUrls.push(r.url());
      });
      await page.goto(gateway.url.href);
      const tile = page.locator(`#tiles .tile[data-host="${host}"]`);
      await eventually(async () => expect(await tile.count()).to.equal(1));
      expect(asked).to.have.length(2);
      expect(asked[0]).to.include('needs a read token');
      expect(asked[1]).to.include('not accepted');
      expect(
        await page.evaluate(() =>
          (
            globalThis as unknown as { localStorage: { getItem(key: string): string | null } }
          ).localStorage.getItem('loadstar.readToken'),
        ),
      ).to.equal(readers[1]);

      // The live stream of the chosen host carries the token, and is open.
      await tile.locator('a.name').click();
      await eventually(async () => {
        expect(streamUrls.some((u) => u.includes(`token=${readers[1]}`))).to.equal(true);
        expect(await page.locator('#live').textContent()).to.match(/^live/);
      });

      // A reload asks nothing: the token is kept.
      await page.goto(gateway.url.href);
      await page.reload();
      await eventually(async () => expect(await tile.count()).to.equal(1));
      expect(asked).to.have.length(2);
      await page.close();
    });
  });
});
