import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { configuredSources, startAgent } from '../../producer/agent.ts';
import {
  Collector,
  collectSamples,
  dueSources,
  pollInterval,
  SourceFailureCounts,
} from '../../producer/collect.ts';
import { readProducerConfig } from '../../producer/config.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import { keys } from '../../proto/keys.ts';
import { SampleIds } from '../../proto/sample.ts';
import { eventually } from '../harness/eventually.ts';
import { history, receiverOn, redisClient, uniqueName } from '../harness/pipeline.ts';
import { freePort } from '../harness/servers.ts';
import {
  type EndpointServer,
  sourcesFrom,
  startEndpointServer,
  writeSourcesFile,
} from './remote.ts';

const plain = (samples: { host: string; metrics: Record<string, number> }[]) =>
  samples.map((s) => [s.host, { ...s.metrics }]);

describe('remote sources together', () => {
  const servers: EndpointServer[] = [];
  const serve = async (answer: EndpointServer['answer']) => {
    const server = await startEndpointServer(answer);
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers.length = 0;
  });

  it('merges what two sources know of the same host into one sample per host', async () => {
    const a = uniqueName('host-a');
    const b = uniqueName('host-b');
    const inventory = await serve({
      body: JSON.stringify([
        { machine_ip: a, cpu: 10, mem: 20 },
        { machine_ip: b, cpu: 30, mem: 40 },
      ]),
    });
    const exporter = await serve({
      body: `# TYPE disk_used_percent gauge\ndisk_used_percent{instance="${a}"} 63\ngpu_util{instance="${a}",gpu="0"} 80\ngpu_util{instance="${a}",gpu="1"} 100\n`,
    });
    const sources = sourcesFrom([
      { name: 'inventory', type: 'http-json', url: inventory.url, host_field: 'machine_ip' },
      {
        name: 'exporter',
        type: 'prometheus',
        url: exporter.url,
        host_label: 'instance',
        metrics: [
          { series: 'disk_used_percent', metric: 'disk' },
          { series: 'gpu_util', aggregate: 'avg', metric: 'gpu' },
        ],
      },
    ]);
    const samples = await collectSamples(
      sources,
      2_000,
      1_000,
      5,
      new SampleIds(),
      createMemoryLog(),
    );
    expect(plain(samples)).to.deep.equal([
      [a, { cpu: 10, mem: 20, disk: 63, gpu: 90 }],
      [b, { cpu: 30, mem: 40 }],
    ]);
    expect(new Set(samples.map((s) => s.id)).size).to.equal(2);
  });

  it('keeps the others reporting when sources are down, slow or answer garbage, and counts each failure by source', async () => {
    const host = uniqueName('survivor');
    const good = await serve({ body: JSON.stringify([{ machine_ip: host, cpu: 1 }]) });
    const failing = await serve({ status: 500, body: 'oops' });
    const silent = await serve({ hang: true });
    const notJson = await serve({ body: 'cpu=1', contentType: 'text/plain' });
    const html = await serve({ body: '<html>\n<body>Sign in</body>\n</html>\n' });
    const json = (name: string, url: string) => ({
      name,
      type: 'http-json',
      url,
      host_field: 'machine_ip',
      timeout: '300ms',
    });
    const sources = sourcesFrom([
      json('good', good.url),
      json('failing', failing.url),
      json('silent', silent.url),
      json('not-json', notJson.url),
      json('refused', `http://127.0.0.1:${await freePort()}/`),
      {
        name: 'html',
        type: 'prometheus',
        url: html.url,
        metrics: [{ series: 'up', metric: 'up' }],
      },
    ]);
    const failures = new SourceFailureCounts();
    const log = createMemoryLog();
    const collect = () =>
      collectSamples(sources, 60_000, Date.now(), 1, new SampleIds(), log, failures);
    expect(plain(await collect())).to.deep.equal([[host, { cpu: 1 }]]);
    const bad = { failing: 1, silent: 1, 'not-json': 1, refused: 1, html: 1 };
    expect(failures.snapshot()).to.deep.equal(bad);
    expect(plain(await collect())).to.deep.equal([[host, { cpu: 1 }]]);
    expect(failures.snapshot()).to.deep.equal(
      Object.fromEntries(Object.keys(bad).map((name) => [name, 2])),
    );
    const text = log.lines.join('');
    expect(text).to.include('source failed source=failing error="answered HTTP 500"');
    expect(text).to.include('source failed source=refused error="request failed: ECONNREFUSED"');
    expect(text).to.match(/source failed source=not-json error="answer is not JSON/);
    expect(text).to.match(/source failed source=html error="answer is not Prometheus text/);
    expect(text).to.match(/source failed source=silent error=.*timeout/);
  });

  it('polls a source only on ticks where its own interval has passed since its last poll', () => {
    const source = (name: string, intervalSeconds?: number): Source => ({
      name,
      intervalSeconds,
      collect: async () => [],
    });
    const every = source('every');
    const slow = source('slow', 0.25);
    const exact = source('exact', 0.2);
    // Polls happen on ticks: 0.25 s waits for the third tick of 0.1 s.
    expect(pollInterval(slow, 0.1)).to.equal(0.3);
    expect(pollInterval(exact, 0.1)).to.equal(0.2);
    expect(pollInterval(every, 0.1)).to.equal(0.1);
    const lastPolls = new Map<Source, number>();
    const polled: Record<string, number[]> = { every: [], slow: [], exact: [] };
    // Ticks of 100 ms, with 1300-1400 and 1600 skipped (collections that overran).
    for (const tick of [1000, 1100, 1200, 1500, 1700, 1800, 1900, 2000]) {
      for (const s of dueSources([every, slow, exact], tick, 0.1, lastPolls))
        polled[s.name]!.push(tick);
    }
    expect(polled).to.deep.equal({
      every: [1000, 1100, 1200, 1500, 1700, 1800, 1900, 2000],
      slow: [1000, 1500, 1800],
      exact: [1000, 1200, 1500, 1700, 1900],
    });
  });

  it('declares for each host the longest poll interval of the sources reporting it, and keeps it between polls', async () => {
    const source = (name: string, record: PartialRecord, intervalSeconds?: number): Source => ({
      name,
      intervalSeconds,
      collect: async () => [record],
    });
    const fast = source('fast', { host: 'h', metrics: { cpu: 1 } });
    const slow = source('slow', { host: 'h', metrics: { disk: 2 } }, 60);
    const alone = source('alone', { host: 'other', metrics: { cpu: 3 } });
    const hostIntervals = new Map<string, number>();
    const collect = (sources: Source[]) =>
      collectSamples(
        sources,
        1_000,
        1,
        5,
        new SampleIds(),
        createMemoryLog(),
        undefined,
        hostIntervals,
      );
    const first = await collect([fast, slow, alone]);
    expect(first.map((s) => [s.host, s.interval])).to.deep.equal([
      ['h', 60],
      ['other', 5],
    ]);
    // Between two polls of the slow source, h keeps declaring its slowest part.
    const second = await collect([fast, alone]);
    expect(second.map((s) => [s.host, s.interval])).to.deep.equal([
      ['h', 60],
      ['other', 5],
    ]);
  });

  it('merges on time without a slow source, puts its late answer into the next sample, and polls it again only after', async () => {
    let release = () => {};
    let slowPolls = 0;
    const slow: Source = {
      name: 'slow',
      collect: () => {
        slowPolls++;
        return new Promise((resolve) => {
          release = () => resolve([{ host: 'h', metrics: { disk: slowPolls } }]);
        });
      },
    };
    let fastPolls = 0;
    const fast: Source = {
      name: 'fast',
      collect: async () => [{ host: 'h', metrics: { cpu: ++fastPolls } }],
    };
    const collector = new Collector(
      [fast, slow],
      { intervalSeconds: 0.1, timeoutMs: 60_000 },
      new SampleIds(),
      createMemoryLog(),
    );
    const collect = (tick: number) => collector.collect(tick, tick, Date.now() + 30);
    expect(plain(await collect(1000))).to.deep.equal([['h', { cpu: 1 }]]);
    // Still waiting for the slow one: it is not polled again meanwhile.
    expect(plain(await collect(1100))).to.deep.equal([['h', { cpu: 2 }]]);
    expect(slowPolls).to.equal(1);
    release();
    expect(plain(await collect(1200))).to.deep.equal([['h', { cpu: 3, disk: 1 }]]);
    expect(slowPolls).to.equal(1);
    // Merged, so due again.
    const next = collect(1300);
    release();
    expect(plain(await next)).to.deep.equal([['h', { cpu: 4, disk: 2 }]]);
    expect(slowPolls).to.equal(2);
    expect(collector.failures.snapshot()).to.deep.equal({});
    collector.stop();
  });

  it('keeps the agent on its ticks while a source hangs for longer than INTERVAL', async function () {
    this.timeout(30_000);
    const host = uniqueName('steady');
    const inventory = await serve({ body: JSON.stringify([{ machine_ip: host, cpu: 1 }]) });
    const silent = await serve({ hang: true });
    const config = readProducerConfig({
      RECEIVER_URL: `http://127.0.0.1:${await freePort()}/data`,
      INTERVAL: '0.1',
      SPOOL_DIR: mkdtempSync(join(tmpdir(), 'loadstar-agent-')),
      LOCAL_SOURCE: 'false',
      SOURCES_FILE: writeSourcesFile([
        { name: 'inventory', type: 'http-json', url: inventory.url, host_field: 'machine_ip' },
        {
          name: 'silent',
          type: 'http-json',
          url: silent.url,
          host_field: 'machine_ip',
          timeout: '1500ms',
        },
      ]),
    });
    const log = createMemoryLog();
    const agent = await startAgent(config, await configuredSources(config, log), log);
    try {
      await eventually(() => expect(agent.sourceFailures()).to.deep.equal({ silent: 1 }), {
        timeoutMs: 10_000,
      });
      const polls = inventory.requests.length;
      // Fifteen ticks went by while the silent source had one poll out.
      expect(polls).to.be.at.least(10);
      expect(silent.requests.length).to.be.within(1, 2);
      // Had collections waited for the silent source, nearly every tick would have been skipped.
      expect(agent.schedule.skipped()).to.be.lessThan(polls / 4);
    } finally {
      await agent.stop(0);
    }
  });

  describe('through the agent into the pipeline', function () {
    this.timeout(60_000);
    let redis: Redis;
    before(() => {
      redis = redisClient();
    });
    after(() => redis.disconnect());

    it('posts one merged sample per host and interval from two HTTP sources, the slower one on its own interval, while a third fails', async () => {
      const host = uniqueName('pulled');
      const inventory = await serve({
        body: JSON.stringify([{ machine_ip: host, cpu: 12.5, mem: 40 }]),
      });
      // Each scrape n serves a counter of n × 1000 bytes at n seconds: 1000 bytes/s exactly.
      const exporter = await serve((n) => ({
        body: [
          `node_filesystem_used_percent{instance="${host}",mountpoint="/"} 63`,
          `node_network_receive_bytes_total{instance="${host}",device="eth0"} ${n * 1000} ${n * 1000}`,
        ].join('\n'),
      }));
      const broken = await serve({ status: 503, body: 'maintenance' });
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/data`;
      const receiver = await receiverOn({ RECEIVER_URL: url });
      const config = readProducerConfig({
        RECEIVER_URL: url,
        INTERVAL: '0.2',
        SPOOL_DIR: mkdtempSync(join(tmpdir(), 'loadstar-agent-')),
        LOCAL_SOURCE: 'false',
        SOURCES_FILE: writeSourcesFile({
          sources: [
            { name: 'inventory', type: 'http-json', url: inventory.url, host_field: 'machine_ip' },
            {
              name: 'exporter',
              type: 'prometheus',
              url: exporter.url,
              interval: 0.4,
              host_label: 'instance',
              metrics: [
                { series: 'node_filesystem_used_percent', aggregate: 'max', metric: 'disk' },
                { series: 'node_network_receive_bytes_total', rate: true, metric: 'net.rx' },
              ],
            },
            { name: 'broken', type: 'http-json', url: broken.url, host_field: 'machine_ip' },
          ],
        }),
      });
      const log = createMemoryLog('producer');
      const sources = await configuredSources(config, log);
      expect(sources.map((s) => s.name)).to.deep.equal(['inventory', 'exporter', 'broken']);
      const agent = await startAgent(config, sources, log);
      try {
        await eventually(() => expect(exporter.requests.length).to.be.at.least(4), {
          timeoutMs: 20_000,
        });
      } finally {
        await agent.stop();
        await receiver.stop();
      }
      expect(agent.spool.depth).to.equal(0);
      const polls = inventory.requests.length;
      const scrapes = exporter.requests.length;
      // Its own interval: at most one scrape per 2 ticks, so clearly fewer than the polls.
      expect(scrapes).to.be.lessThan(polls);
      const cpu = await history(redis, host, 'cpu');
      const disk = await history(redis, host, 'disk');
      const rx = await history(redis, host, 'net.rx');
      expect(cpu).to.have.length(polls);
      expect(disk).to.have.length(scrapes);
      // No rate on the first scrape; then exactly the counter's pace.
      expect(rx.map(([, v]) => v)).to.deep.equal(Array(scrapes - 1).fill(1000));
      // Merged: disk arrived in the same samples as cpu, not in samples of its own.
      const cpuTimes = new Set(cpu.map(([t]) => t));
      expect(disk.every(([t]) => cpuTimes.has(t))).to.equal(true);
      const meta = await redis.hgetall(keys.hostMeta(host));
      expect(Number(meta.samples)).to.equal(polls);
      expect(Number(meta.interval)).to.equal(0.4);
      expect(agent.sourceFailures()).to.deep.equal({ broken: broken.requests.length });
      expect(broken.requests.length).to.equal(polls);
      expect(log.lines.join('')).to.include(
        'source failed source=broken error="answered HTTP 503"',
      );
    });
  });
});
