// Incidents from window aggregates, through the real pipeline: receiver ->
// stream -> rules consumer -> Redis, NATS (incidents.<host>), HTTP and gRPC.
// On servers of its own, with synthetic timestamps.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import type { RunningGateway } from '../../gateway/service.ts';
import { createLoadstarClient, type IncidentEvent__Output } from '../../proto/grpc.ts';
import type { Incident, IncidentEvent } from '../../proto/incident.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  getJson,
  postSample,
  publishSample,
  receiverOn,
  rulesOn,
  uniqueName,
} from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

const RULES = `
rules:
  - name: cpu-high
    metric: cpu
    window: 3
    aggregate: avg
    op: ">"
    threshold: 90
    severity: critical
  - name: load-held
    metric: load.1
    window: 2
    op: ">"
    threshold: 5
    for: 10s
  - name: mem-spike
    metric: mem
    window: 30s
    aggregate: max
    op: ">="
    threshold: 95
    resolve: 80
`;

describe('incidents', function () {
  this.timeout(40_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let rules: RunningRules;
  let gateway: RunningGateway;
  let nc: NatsConnection;
  let env: Record<string, string>;
  const events: IncidentEvent[] = [];

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    env = { NATS_URL: nats.url, REDIS_URL: redis.url, RULES_FILE: join(dir, 'rules.yaml') };
    [receiver, gateway] = await Promise.all([receiverOn(env), gatewayOn(env)]);
    rules = await rulesOn(env);
    nc = await connect({ servers: new URL(nats.url).host });
    nc.subscribe('incidents.>', {
      callback: (_e, m) => events.push(JSON.parse(m.string()) as IncidentEvent),
    });
    await nc.flush();
  });
  after(async () => {
    await nc.close();
    await Promise.all([receiver.stop(), rules.stop(), gateway.stop()]);
    for (const s of [nats, redis]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  const post = (host: string, time: number, metrics: Record<string, number>) =>
    postSample(receiver.url, metrics, {
      'Loadstar-Host': host,
      'Loadstar-Time': String(time),
      'Loadstar-Interval': '1',
    });
  const list = async (query: string) =>
    (await getJson(new URL(`api/v1/incidents?${query}`, gateway.url))).body
      .incidents as (Incident & { opened_at: string; resolved_at: string | null })[];
  /** Waits until the rules consumer has evaluated the host's sample taken at `time`. */
  const evaluated = (host: string, time: number, rule = 'cpu-high') =>
    eventually(async () => {
      const { Redis } = await import('ioredis');
      const r = new Redis(redis.url);
      try {
        expect(Number(await r.hget(`ls:{${host}}:rule:${rule}`, 'last_time'))).to.be.at.least(time);
      } finally {
        r.disconnect();
      }
    });

  it('opens one incident when the average over 3 samples passes 90, holds it above the resolve threshold, and resolves below it', async () => {
    const host = uniqueName('hot');
    const t0 = Date.now() - 60_000;
    const values = [85, 95, 95, 96, 88, 86, 84, 80];
    for (const [i, v] of values.entries())
      expect((await post(host, t0 + i * 1000, { cpu: v })).status).to.equal(200);
    const [incident] = await eventually(async () => {
      const found = await list(`state=resolved&host=${host}`);
      expect(found).to.have.length(1);
      return found;
    });
    expect(await list(`state=all&host=${host}`)).to.have.length(1);
    expect(incident).to.deep.include({
      rule: 'cpu-high',
      host,
      metric: 'cpu',
      severity: 'critical',
      state: 'resolved',
      opened_at_ms: t0 + 2000,
      resolved_at_ms: t0 + 7000,
      aggregate: 'avg',
      op: '>',
      threshold: 90,
      resolve_threshold: 85.5,
      window: '3 samples',
      samples: 8,
      min: 80,
      max: 96,
    });
    expect(incident!.avg).to.equal(values.reduce((a, b) => a + b, 0) / values.length);
    expect(incident!.trigger).to.deep.equal([
      [t0, 85],
      [t0 + 1000, 95],
      [t0 + 2000, 95],
    ]);
    expect(incident!.opened_at).to.equal(new Date(t0 + 2000).toISOString());
    const byId = await getJson(new URL(`api/v1/incidents/${incident!.id}`, gateway.url));
    expect(byId.body).to.deep.equal(incident);
    // On NATS: exactly one event per transition.
    await eventually(() =>
      expect(events.filter((e) => e.incident.host === host).map((e) => e.transition)).to.deep.equal(
        ['opened', 'resolved'],
      ),
    );
  });

  it('does not flap while the average swings around the threshold above the resolve threshold', async () => {
    const host = uniqueName('swing');
    const t0 = Date.now() - 60_000;
    const values = [95, 95, 95, 88, 86, 92, 87, 93, 88, 91];
    for (const [i, v] of values.entries()) await post(host, t0 + i * 1000, { cpu: v });
    await evaluated(host, t0 + 9000);
    const found = await list(`state=all&host=${host}`);
    expect(found).to.have.length(1);
    expect(found[0]).to.include({ state: 'open', samples: 10 });
    expect((await list(`state=open&host=${host}`)).map((i) => i.id)).to.deep.equal([found[0]!.id]);
  });

  it('opens only once the condition has held for the rule’s "for"', async () => {
    const host = uniqueName('held');
    const t0 = Date.now() - 60_000;
    // Window of 2: the condition holds from the second sample (t0 + 2 s); for 10 s: opens at t0 + 12 s.
    for (let i = 0; i <= 8; i++) await post(host, t0 + i * 2000, { 'load.1': 6 });
    const [incident] = await eventually(async () => {
      const found = await list(`state=open&host=${host}`);
      expect(found).to.have.length(1);
      return found;
    });
    expect(incident).to.include({ rule: 'load-held', opened_at_ms: t0 + 12_000 });
  });

  it('takes a duration as the window and the max as the aggregate', async () => {
    const host = uniqueName('spike');
    const t0 = Date.now() - 120_000;
    await post(host, t0, { mem: 96 });
    await post(host, t0 + 10_000, { mem: 50 });
    // 96 is still inside the 30 s window at t0 + 10 s: open; gone at t0 + 40 s: resolved (max 50 < 80).
    await post(host, t0 + 40_000, { mem: 50 });
    const [incident] = await eventually(async () => {
      const found = await list(`state=resolved&host=${host}`);
      expect(found).to.have.length(1);
      return found;
    });
    expect(incident).to.include({
      rule: 'mem-spike',
      opened_at_ms: t0,
      resolved_at_ms: t0 + 40_000,
      window: '30s',
    });
  });

  it('keeps exactly one incident per episode across redelivered samples and a restart of the rules consumer', async () => {
    const host = uniqueName('restart');
    const t0 = Date.now() - 60_000;
    for (const [i, v] of [95, 95, 95, 96].entries()) await post(host, t0 + i * 1000, { cpu: v });
    await evaluated(host, t0 + 3000);
    await rules.stop();
    // While it is down: more of the episode, and copies of samples already evaluated (new message ids).
    for (const [i, v] of [97, 98].entries()) await post(host, t0 + (4 + i) * 1000, { cpu: v });
    for (const [i, v] of [95, 95].entries()) {
      await publishSample(
        nc,
        { host, id: `copy-${i}`, time: t0 + i * 1000, interval: 1, metrics: { cpu: v } },
        `copy-${host}-${i}`,
      );
    }
    rules = await rulesOn(env);
    await evaluated(host, t0 + 5000);
    for (const [i, v] of [50, 50, 50].entries()) await post(host, t0 + (6 + i) * 1000, { cpu: v });
    const found = await eventually(async () => {
      const all = await list(`state=all&host=${host}`);
      expect(all.map((i) => i.state)).to.deep.equal(['resolved']);
      return all;
    });
    // The first 50 brings the average to 81.7, under 85.5: the episode ends there, with its 7th sample.
    expect(found[0]).to.include({ samples: 7, max: 98, min: 50, resolved_at_ms: t0 + 6000 });
    await eventually(() =>
      expect(events.filter((e) => e.incident.host === host).map((e) => e.transition)).to.deep.equal(
        ['opened', 'resolved'],
      ),
    );
  });

  it('streams openings and resolutions to gRPC WatchIncidents', async () => {
    const host = uniqueName('watched');
    const client = createLoadstarClient(gateway.grpcAddress);
    const stream = client.WatchIncidents({ hosts: [host] });
    const got: IncidentEvent__Output[] = [];
    stream.on('data', (e: IncidentEvent__Output) => got.push(e));
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code !== 1) throw err;
    });
    try {
      // The watch starts from the call: give it a moment to be in place by waiting for a first unrelated round trip.
      await new Promise<void>((resolve) =>
        client.waitForReady(Date.now() + 5_000, () => resolve()),
      );
      const t0 = Date.now() - 30_000;
      for (const [i, v] of [99, 99, 99, 10, 10, 10].entries())
        await post(host, t0 + i * 1000, { cpu: v });
      await eventually(() =>
        expect(got.map((e) => e.transition)).to.deep.equal(['opened', 'resolved']),
      );
      expect(got[0]!.incident).to.include({
        host,
        rule: 'cpu-high',
        state: 'open',
        opened_at_ms: String(t0 + 2000),
      });
      expect(got[0]!.incident!.trigger.map((p) => p.value)).to.deep.equal([99, 99, 99]);
      expect(got[1]!.incident).to.include({ state: 'resolved', resolved_at_ms: String(t0 + 3000) });
      expect(Number(got[1]!.seq)).to.be.greaterThan(Number(got[0]!.seq));
    } finally {
      stream.cancel();
      client.close();
    }
  });

  it('filters the list by state, host and time, and answers 404 and 400 as JSON', async () => {
    const host = uniqueName('listed');
    const t0 = Date.now() - 60_000;
    for (const [i, v] of [99, 99, 99].entries()) await post(host, t0 + i * 1000, { cpu: v });
    await eventually(async () => expect(await list(`state=open&host=${host}`)).to.have.length(1));
    expect(await list(`state=resolved&host=${host}`)).to.have.length(0);
    expect(await list(`state=all&host=${host}&since=${t0 + 2001}`)).to.have.length(0);
    expect(await list(`state=all&host=${host}&since=${new Date(t0).toISOString()}`)).to.have.length(
      1,
    );
    const missing = await getJson(new URL('api/v1/incidents/0123456789abcdef', gateway.url));
    expect(missing.status).to.equal(404);
    expect(missing.body.error).to.include('no incident');
    const bad = await getJson(new URL('api/v1/incidents?state=closed', gateway.url));
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.include("'state' must be open, resolved or all");
  });

  it('stops the rules consumer at start on a bad rules file, naming the rule and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-badrules-'));
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - name: cpu-high\n    metric: cpu\n    window: 3\n    threshold: ninety\n',
    );
    const proc = runScript('receiver/rules/main.ts', { RULES_FILE: join(dir, 'rules.yaml') });
    expect(await proc.exited).to.equal(2);
    const lines = proc.output().trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include(
      "bad setting RULES_FILE: rules[0] 'cpu-high': field 'threshold' must be a number",
    );
  });
});
