// GET api/v1/summary, the fleet overview's one request: every host's state by
// its own interval, newest figures, a cpu sparkline of minute averages and open
// incidents by severity (each with its acknowledgement and silences); and a
// thousand hosts read in a few Redis round trips.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { connectRedis } from '../../deploy/runtime/redis.ts';
import { IncidentReader } from '../../gateway/incidents.ts';
import { ReadModel } from '../../gateway/read.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import { readSummary } from '../../gateway/summary.ts';
import { AckStore } from '../../proto/ack.ts';
import { SilenceStore } from '../../proto/silence.ts';
import { DEFAULT_RULES_SOURCE } from '../../receiver/rules/rules.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, postSample, receiverOn, rulesOn } from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

const MINUTE = 60_000;

describe('GET api/v1/summary', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let rules: RunningRules;
  let rulesDir: string;

  before(async () => {
    // Servers of its own: the summary lists every host of its Redis.
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      STALE_FACTOR: '3',
      OFFLINE_FACTOR: '10',
    };
    // The default rules but host-down: these hosts post a few samples and stop, and the
    // incidents counted here are the threshold rules' alone.
    rulesDir = mkdtempSync(join(tmpdir(), 'loadstar-summary-'));
    writeFileSync(
      join(rulesDir, 'rules.json'),
      JSON.stringify({ rules: DEFAULT_RULES_SOURCE.rules.filter((r) => r.name !== 'host-down') }),
    );
    [receiver, gateway, rules] = await Promise.all([
      receiverOn(env),
      gatewayOn(env),
      rulesOn({ ...env, RULES_FILE: join(rulesDir, 'rules.json') }),
    ]);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), gateway?.stop(), rules?.stop()]);
    if (rulesDir) removeDir(rulesDir);
    for (const s of [nats, redis]) {
      await s?.stop();
      if (s) removeDir(s.dir);
    }
  });

  const summary = (query = '') => getJson(new URL(`api/v1/summary${query}`, gateway.url));
  const post = (host: string, time: number, interval: number, metrics: Record<string, number>) =>
    postSample(receiver.url, metrics, {
      'Loadstar-Host': host,
      'Loadstar-Time': String(time),
      'Loadstar-Interval': String(interval),
    });
  /** Posts many samples (each with its own host and time) in batches of 1,000. */
  async function postBatch(
    samples: { host: string; time: number; interval: number; metrics: Record<string, number> }[],
  ) {
    for (let i = 0; i < samples.length; i += 1000) {
      const res = await fetch(`${receiver.url.href.replace(/\/$/, '')}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ samples: samples.slice(i, i + 1000) }),
      });
      const body = (await res.json()) as { rejected: unknown[] };
      expect(res.status, JSON.stringify(body)).to.equal(200);
      expect(body.rejected).to.deep.equal([]);
    }
  }

  it('lists every host once, by name, with its newest cpu, mem, disk and load.1 (null where never sent)', async () => {
    const now = Date.now();
    await post('sum-b', now - 2000, 5, { cpu: 20, mem: 41.5, disk: 70.25, 'load.1': 0.5 });
    await post('sum-b', now - 1000, 5, { cpu: 12, mem: 42, disk: 70.25, 'load.1': 0.75 });
    await post('sum-a', now - 1000, 5, { cpu: 99.5, mem: 10 });
    const res = await summary();
    expect(res.status).to.equal(200);
    const names = res.body.hosts.map((h: { host: string }) => h.host);
    expect(names).to.deep.equal([...names].sort());
    expect(names.filter((n: string) => n.startsWith('sum-'))).to.deep.equal(['sum-a', 'sum-b']);
    const b = res.body.hosts.find((h: { host: string }) => h.host === 'sum-b');
    expect(b.values).to.deep.equal({ cpu: 12, mem: 42, disk: 70.25, 'load.1': 0.75 });
    // Values are JSON floats, as everywhere in the API.
    expect(res.text).to.include('"values":{"cpu":12.0,"mem":42.0,"disk":70.25,"load.1":0.75}');
    const a = res.body.hosts.find((h: { host: string }) => h.host === 'sum-a');
    expect(a.values).to.deep.equal({ cpu: 99.5, mem: 10, disk: null, 'load.1': null });
    expect(a.interval).to.equal(5);
    expect(a.last_seen_ms).to.equal(now - 1000);
    expect(a.recording).to.equal(true);
    expect(res.body.metrics).to.deep.equal(['cpu', 'mem', 'disk', 'load.1']);
    expect(res.body.raw_retention_ms).to.equal(86_400_000);
  });

  it('tells live, stale and offline apart by each host’s own interval', async () => {
    const now = Date.now();
    // Interval 60: stale after 180 s, offline after 600 s. Interval 5: offline after 50 s.
    await post('state-live', now - 1000, 60, { cpu: 1 });
    await post('state-stale', now - 300_000, 60, { cpu: 1 });
    await post('state-offline', now - 120_000, 5, { cpu: 1 });
    const res = await summary();
    const state = (host: string) =>
      res.body.hosts.find((h: { host: string }) => h.host === host)?.state;
    expect(state('state-live')).to.equal('live');
    expect(state('state-stale')).to.equal('stale');
    expect(state('state-offline')).to.equal('offline');
    expect(res.body.stale_factor).to.equal(3);
    expect(res.body.offline_factor).to.equal(10);
  });

  it('draws the cpu sparkline from raw history: one average per minute of the last 15, null where none arrived', async () => {
    const host = 'spark-01';
    const now = Date.now();
    const first = now - (now % MINUTE) - 14 * MINUTE;
    // Minute 0: 10 and 20; minute 3: 7; minutes 10 to 13: 50 + minute; minute 1 of the hour before the range: left out.
    const samples: { host: string; time: number; interval: number; metrics: { cpu: number } }[] = [
      { host, time: first - MINUTE + 5_000, interval: 5, metrics: { cpu: 99 } },
      { host, time: first + 1_000, interval: 5, metrics: { cpu: 10 } },
      { host, time: first + 31_000, interval: 5, metrics: { cpu: 20 } },
      { host, time: first + 3 * MINUTE + 2_000, interval: 5, metrics: { cpu: 7 } },
    ];
    for (let m = 10; m <= 13; m++)
      samples.push({ host, time: first + m * MINUTE + 500, interval: 5, metrics: { cpu: 50 + m } });
    await postBatch(samples);
    const res = await summary(`?host=${host}`);
    expect(res.status).to.equal(200);
    expect(res.body.sparkline).to.deep.equal({ metric: 'cpu', from_ms: first, step_ms: MINUTE });
    const expected: (number | null)[] = Array(15).fill(null);
    expected[0] = 15;
    expected[3] = 7;
    for (let m = 10; m <= 13; m++) expected[m] = 50 + m;
    expect(res.body.hosts).to.have.length(1);
    expect(res.body.hosts[0].sparkline).to.deep.equal(expected);
  });

  it('counts each host’s open incidents by severity and lists them', async () => {
    const host = 'hot-01';
    const now = Date.now();
    // cpu-high (warning) opens after 3 samples averaging above 90; disk-high (critical) after 9.
    for (let i = 0; i < 9; i++)
      await post(host, now - 9_000 + i * 1000, 1, { cpu: 95 + (i % 3), disk: 97 });
    const res = await eventually(
      async () => {
        const got = await summary(`?host=${host}`);
        expect(got.body.hosts[0].open_incidents).to.have.length(2);
        return got;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(res.body.hosts[0].open_incidents).to.have.deep.members([
      { severity: 'warning', count: 1 },
      { severity: 'critical', count: 1 },
    ]);
    expect(res.body.incidents.map((i: { rule: string }) => i.rule).sort()).to.deep.equal([
      'cpu-high',
      'disk-high',
    ]);
    expect(res.body.incidents.every((i: { host: string }) => i.host === host)).to.equal(true);
    // Another host's summary has none of them.
    const other = await summary('?host=sum-b');
    expect(other.body.hosts[0].open_incidents).to.deep.equal([]);
    expect(other.body.incidents).to.deep.equal([]);
  });

  it('shows each open incident with its acknowledgement and the silences holding it, as api/v1/incidents does', async () => {
    const host = 'acked-01';
    const now = Date.now();
    for (let i = 0; i < 3; i++) await post(host, now - 3_000 + i * 1000, 1, { cpu: 96 });
    const opened = await eventually(
      async () => {
        const got = await summary(`?host=${host}`);
        expect(got.body.incidents).to.have.length(1);
        return got.body.incidents[0];
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(opened).to.include({ rule: 'cpu-high', acknowledged: null });
    expect(opened.silenced_by).to.deep.equal([]);

    const write = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(new URL(path, gateway.url), {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(res.status, path).to.be.within(200, 201);
      return (await res.json()) as { id: string };
    };
    await write('POST', `api/v1/incidents/${opened.id}/ack`, { author: 'alice', comment: 'on it' });
    const silence = await write('POST', 'api/v1/silences', {
      matchers: { host },
      ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      comment: 'maintenance',
      author: 'bob',
    });

    const [fleet, listed] = await Promise.all([
      summary(`?host=${host}`),
      getJson(new URL(`api/v1/incidents?host=${host}`, gateway.url)),
    ]);
    const shown = fleet.body.incidents[0];
    expect(shown.acknowledged).to.include({ author: 'alice', comment: 'on it' });
    expect(shown.silenced_by).to.deep.equal([silence.id]);
    expect(shown.acknowledged).to.deep.equal(listed.body.incidents[0].acknowledged);
    expect(shown.silenced_by).to.deep.equal(listed.body.incidents[0].silenced_by);

    // Its end shows at once.
    await write('DELETE', `api/v1/silences/${silence.id}`);
    expect((await summary(`?host=${host}`)).body.incidents[0].silenced_by).to.deep.equal([]);
  });

  it('answers 404 for a host that never reported, and 400 for a bad name', async () => {
    const unknown = await summary('?host=never-seen');
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error).to.equal('no host never-seen reports');
    const bad = await summary('?host=a%20b');
    expect(bad.status).to.equal(400);
  });

  it('reads a thousand hosts in a few Redis round trips, not one per host', async () => {
    const now = Date.now();
    const samples = [];
    for (let i = 0; i < 1000; i++) {
      const host = `fleet-${String(i).padStart(4, '0')}`;
      for (const ago of [120_000, 60_000, 1_000])
        samples.push({ host, time: now - ago, interval: 5, metrics: { cpu: i % 100, mem: 50 } });
    }
    samples.sort((x, y) => x.time - y.time);
    await postBatch(samples);
    const client = (await connectRedis(
      { urls: [new URL(redis.url)] },
      'summary-test',
      createMemoryLog('summary-test'),
    )) as Redis;
    try {
      // Every write to the socket is one round trip's worth of commands.
      const socket = client.stream;
      let writes = 0;
      const write = socket.write.bind(socket);
      socket.write = ((...args: Parameters<typeof write>) => {
        writes++;
        return write(...args);
      }) as typeof socket.write;
      const read = new ReadModel(client, 86_400_000);
      const result = await readSummary({
        redis: client,
        read,
        incidents: new IncidentReader(client),
        acks: new AckStore(client),
        silences: new SilenceStore(client),
        staleness: { factor: 3, offlineFactor: 10, defaultIntervalSeconds: 5 },
        rawRetentionMs: 86_400_000,
        recording: () => ({ recording: true, paused_by: null, since: null, wiped_before: null }),
      });
      const fleet = result.hosts.filter((h) => h.host.startsWith('fleet-'));
      expect(fleet).to.have.length(1000);
      expect(fleet[42]!.values[0]).to.equal(42);
      expect(fleet[42]!.minutes.filter((v) => v !== null)).to.have.length.at.least(2);
      expect(writes).to.be.at.most(5);
    } finally {
      client.disconnect();
    }
  });
});
