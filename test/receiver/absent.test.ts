// Host down, on a clock: absent rules through the real pipeline (agent ->
// receiver -> stream -> two rules consumers -> Redis, incidents stream, HTTP),
// on servers of their own. A host that stops gets one incident, which ends when
// it posts again; its other incidents end when it goes silent; a rules consumer
// catching up on a backlog calls no host silent.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { connectNats } from '../../deploy/runtime/nats.ts';
import { connectRedis } from '../../deploy/runtime/redis.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import type { Incident, IncidentEvent } from '../../proto/incident.ts';
import { alertKeys } from '../../proto/keys.ts';
import { AbsenceWatch, createAbsenceCounters } from '../../receiver/rules/absence.ts';
import { readRulesConfig } from '../../receiver/rules/config.ts';
import { RuleEvaluator } from '../../receiver/rules/evaluator.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { postEvery, sampleArrivals, storedIncidentEvents } from '../harness/incidents.ts';
import {
  gatewayOn,
  getJson,
  natsClient,
  postSample,
  receiverOn,
  redisClient,
  rulesOn,
  testEnv,
  uniqueName,
} from '../harness/pipeline.ts';
import { runScript, type ServiceProcess } from '../harness/processes.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

const RULES = `
rules:
  - name: host-down
    kind: absent
    intervals: 5
    severity: critical
  - name: load-hot
    metric: test.load
    window: 1
    threshold: 90
    severity: warning
`;

describe('absent rules (host down)', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let rules: RunningRules[] = [];
  let nc: NatsConnection;
  let env: Record<string, string>;
  const agents: ServiceProcess[] = [];

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-absent-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    env = { NATS_URL: nats.url, REDIS_URL: redis.url, RULES_FILE: join(dir, 'rules.yaml') };
    [receiver, gateway] = await Promise.all([receiverOn(env), gatewayOn(env)]);
    // Two copies, as for availability: both look for silent hosts every second.
    rules = [await rulesOn(env), await rulesOn(env)];
    nc = await natsClient(nats.url);
  });
  after(async () => {
    for (const agent of agents) agent.child.kill('SIGKILL');
    await nc?.close();
    await Promise.all([receiver?.stop(), gateway?.stop(), ...rules.map((r) => r.stop())]);
    for (const s of [nats, redis]) {
      await s?.stop();
      if (s) removeDir(s.dir);
    }
  });

  const incidents = async (host: string, rule?: string): Promise<Incident[]> => {
    const { body } = await getJson(new URL(`api/v1/incidents?state=all&host=${host}`, gateway.url));
    return (body.incidents as Incident[]).filter((i) => rule === undefined || i.rule === rule);
  };
  const startAgent = (host: string) => {
    const agent = runScript('producer/main.ts', {
      HOST: host,
      INTERVAL: '1',
      RECEIVER_URL: receiver.url.href,
      LOG_LEVEL: 'warn',
    });
    agents.push(agent);
    return agent;
  };
  const stopAgent = async (agent: ServiceProcess) => {
    agent.child.kill('SIGTERM');
    expect(await agent.exited, agent.output()).to.equal(0);
    removeDir(agent.cwd);
  };

  it('opens one incident 5 intervals after an agent at INTERVAL=1 stops, and resolves it when the agent posts again', async () => {
    const host = uniqueName('stops');
    const first = startAgent(host);
    await eventually(async () => expect(await sampleArrivals(nc, host)).to.have.length.above(2), {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    await stopAgent(first);
    const before = await sampleArrivals(nc, host);

    const [open] = await eventually(
      async () => {
        const found = await incidents(host, 'host-down');
        expect(found.map((i) => i.state)).to.deep.equal(['open']);
        return found;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    console.log(
      `      host-down seen ${Date.now() - (before.at(-1)! + 5_000)} ms after its deadline (checks every second)`,
    );
    // Silent from the last arrival on, for 5 of its 1 s intervals.
    expect(open).to.deep.include({
      kind: 'absent',
      host,
      severity: 'critical',
      metric: '',
      window: '5 intervals of 1s',
      opened_at_ms: before.at(-1)! + 5_000,
      resolution: null,
    });

    const second = startAgent(host);
    const [resolved] = await eventually(
      async () => {
        const found = await incidents(host, 'host-down');
        expect(found.map((i) => i.state)).to.deep.equal(['resolved']);
        return found;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // It ends when the first sample of the new run reached the stream.
    const after = await sampleArrivals(nc, host);
    expect(resolved).to.deep.include({
      id: open!.id,
      resolution: 'recovered',
      resolved_at_ms: after[before.length],
    });
    await stopAgent(second);

    // Two rules consumers looked every second all along, and the stream holds one episode.
    expect((await storedIncidentEvents(nc, host)).map((e) => e.transition)).to.deep.equal([
      'opened',
      'resolved',
    ]);
    for (const copy of rules) {
      const metrics = await (await fetch(new URL('metrics', copy.url))).text();
      expect(metrics).to.match(
        /loadstar_rules_absence_checks_total\{[^}]*outcome="done"[^}]*\} [1-9]/,
      );
    }
  });

  it('opens exactly one incident when two rules consumers look at a silent host at the same instant', async () => {
    const host = uniqueName('raced');
    // Both copies' own clocks may open it first; these two looks race each other as well.
    const poster = postEvery(receiver.url, host, 0.2);
    await eventually(() => expect(poster.posted()).to.be.above(2));
    await poster.stop();
    let opened = 0;
    await eventually(
      async () => {
        for (const n of await Promise.all(rules.map((r) => r.absence.check()))) opened += n;
        expect(await incidents(host, 'host-down')).to.have.length(1);
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    // Whoever won (these looks or the copies' own clocks), no look opened a second one.
    expect(opened).to.be.at.most(1);
    await eventually(async () =>
      expect((await storedIncidentEvents(nc, host)).map((e) => e.transition)).to.deep.equal([
        'opened',
      ]),
    );
    // Every later look finds it open already.
    expect(await Promise.all(rules.map((r) => r.absence.check()))).to.deep.equal([0, 0]);
    expect(await incidents(host, 'host-down')).to.have.length(1);
  });

  it('ends the other open incidents of a host that goes silent, and starts them afresh when it is back', async () => {
    const host = uniqueName('hot-silent');
    const post = (load: number) =>
      postSample(
        receiver.url,
        { 'test.load': load },
        { 'Loadstar-Host': host, 'Loadstar-Interval': '0.2' },
      );
    expect((await post(95)).status).to.equal(200);
    await eventually(async () =>
      expect((await incidents(host, 'load-hot')).map((i) => i.state)).to.deep.equal(['open']),
    );
    // Nothing more: after 5 × 0.2 s the host is down, and its hot incident ends with it.
    const [down] = await eventually(async () => {
      const found = await incidents(host, 'host-down');
      expect(found).to.have.length(1);
      return found;
    });
    const [hot] = await eventually(async () => {
      const found = await incidents(host, 'load-hot');
      expect(found.map((i) => i.state)).to.deep.equal(['resolved']);
      return found;
    });
    expect(hot).to.include({ resolution: 'host_silent', resolved_at_ms: down!.opened_at_ms });

    // Back, and still hot: the host-down incident ends and a new hot episode opens.
    expect((await post(96)).status).to.equal(200);
    await eventually(async () => {
      expect((await incidents(host, 'host-down')).map((i) => i.state)).to.deep.equal(['resolved']);
      const hots = await incidents(host, 'load-hot');
      expect(hots.map((i) => i.state).sort()).to.deep.equal(['open', 'resolved']);
    });
    const events = (await storedIncidentEvents(nc, host)).map(
      (e) => `${e.incident.rule} ${e.transition}`,
    );
    expect(events).to.deep.equal([
      'load-hot opened',
      'host-down opened',
      'load-hot resolved',
      'host-down resolved',
      'load-hot opened',
    ]);
  });

  it('calls no host silent that only waits in the backlog of stopped rules consumers', async () => {
    const host = uniqueName('backlog');
    const poster = postEvery(receiver.url, host, 0.5);
    try {
      await eventually(async () => expect(await sampleArrivals(nc, host)).to.have.length.above(2));
      await Promise.all(rules.map((r) => r.stop()));
      rules = [];
      // The host keeps posting while no rules consumer reads: more than 5 intervals of backlog.
      const stoppedAt = (await sampleArrivals(nc, host)).length;
      await eventually(
        async () => expect(await sampleArrivals(nc, host)).to.have.length.above(stoppedAt + 7),
        { timeoutMs: 15_000, intervalMs: 250 },
      );
      // By the clock, the host is overdue: its deadline in the index has passed.
      const r = redisClient(redis.url);
      try {
        expect(Number(await r.zscore(alertKeys.absentDeadlines, host))).to.be.below(Date.now());
      } finally {
        r.disconnect();
      }
      // A look from a copy that has not yet caught up judges by the backlog's oldest sample instead.
      const config = readRulesConfig(testEnv(env));
      const log = createMemoryLog('absence');
      const link = await connectNats(config.nats, 'absence-test', log);
      const client = await connectRedis(config.redis, 'absence-test', log);
      try {
        const evaluator = new RuleEvaluator(client, config.rules, config.retentionMs);
        // Hosts of the earlier tests, silent for long before the backlog began, may open here.
        const published: IncidentEvent[] = [];
        const watch = new AbsenceWatch(
          link,
          client,
          evaluator,
          async (event) => {
            published.push(event);
          },
          createAbsenceCounters(new Registry()),
          log,
          60_000,
          config.retentionMs,
        );
        await watch.check();
        expect(published.filter((e) => e.incident.host === host)).to.deep.equal([]);
        expect(await incidents(host, 'host-down')).to.deep.equal([]);
      } finally {
        await link.close();
        client.disconnect();
      }
    } finally {
      await poster.stop();
      rules = [await rulesOn(env)];
    }
    // Caught up, nothing was silent.
    await eventually(async () => {
      const r = redisClient(redis.url);
      try {
        expect(Number(await r.zscore(alertKeys.absentDeadlines, host))).to.be.above(Date.now());
      } finally {
        r.disconnect();
      }
    });
    expect(await incidents(host, 'host-down')).to.deep.equal([]);
  });
});
