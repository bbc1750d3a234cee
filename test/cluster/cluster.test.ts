// The cluster test (`npm run test:cluster`; each fault once in `npm test`): the
// NATS cluster and the Redis Cluster of deploy/, two copies of every service,
// agents posting a steady load to both receivers and gRPC subscribers. One part
// at a time is killed with -9 and started again as systemd would; then nothing
// may be lost or doubled, every host's order and latest value must hold, the
// subscribers must have missed nothing, and every copy of the data must agree
// again. A table per fault goes to stdout and test-results/cluster.md.
// CLUSTER_ROUNDS=N runs each fault N times; CLUSTER_SETTINGS='REDIS_WAIT_REPLICAS=0 …'
// gives every service settings on top of deploy's, to measure what one changes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { createLoadstarClient, type LoadstarClient } from '../../proto/grpc.ts';
import { keys } from '../../proto/keys.ts';
import { SAMPLES_STREAM } from '../../proto/subjects.ts';
import { type HostRecord, outOfOrder, readAgents, tally } from '../faults/invariants.ts';
import { Acknowledged, Subscriber } from '../faults/observers.ts';
import { DEPLOY, has, type RedisNode, read, run as runTool } from '../harness/deploy-cluster.ts';
import { eventually } from '../harness/eventually.ts';
import { REPO } from '../harness/processes.ts';
import { Agreement } from './agreement.ts';
import { ClusterPipeline } from './pipeline.ts';

const ROUNDS = Number(process.env.CLUSTER_ROUNDS ?? 1);
const SETTINGS = parseEnv((process.env.CLUSTER_SETTINGS ?? '').split(/\s+/).join('\n')) as Record<
  string,
  string
>;
const AGENTS = 10;
const AGENT_EVERY_MS = 200;
/** deploy/systemd's RestartSec=2s: how long a killed service or NATS node stays down. */
const RESTART_AFTER_MS = 2_000;
const LAG_LIMIT_MS = 5_000;
const RECOVERY_LIMIT_MS = 60_000;
const AGREE_LIMIT_MS = 60_000;

interface Row {
  fault: string;
  sent: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  ackGapSeconds: number;
  agreeSeconds: number;
  /** When the cluster had elected a new leader or promoted a replica, for those faults. */
  replacedSeconds?: number;
}

/** What a fault kills: a service copy, a NATS node or a Redis node. */
interface Killable {
  name: string;
  signal(signal: NodeJS.Signals): void;
  exited(): Promise<void>;
  start(): Promise<void>;
}

interface Fault {
  name: string;
  /** The part to kill in this round. */
  pick(round: number): Promise<Killable>;
  /**
   * What must happen before the killed part comes back, besides RestartSec: the
   * cluster replacing a lost leader or primary, as when its machine is gone a while.
   */
  replaced?(): Promise<void>;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const missing = ['nats-server', 'redis-server', 'redis-cli'].filter((tool) => !has(tool));

describe('cluster: one part at a time killed with -9 under load', function () {
  this.timeout(240_000);
  let pipeline: ClusterPipeline;
  let redis: Cluster;
  let nc: NatsConnection;
  let acked: Acknowledged;
  let agreement: Agreement;
  let clients: LoadstarClient[] = [];
  let subscribers: Subscriber[] = [];
  const hosts = Array.from({ length: AGENTS }, (_, i) => `fault-agent-${i}`);
  const rows: Row[] = [];
  let began = 0;

  before(async function () {
    if (missing.length > 0) {
      process.stderr.write(
        `  skipped: the cluster test needs ${missing.join(', ')} (apt-get install nats-server redis-server)\n`,
      );
      this.skip();
    }
    this.timeout(180_000);
    began = Date.now();
    pipeline = await ClusterPipeline.start({
      agents: AGENTS,
      agentEveryMs: AGENT_EVERY_MS,
      settings: SETTINGS,
    });
    redis = new Cluster(
      pipeline.redis.map((node) => ({ host: '127.0.0.1', port: node.port })),
      {
        redisOptions: { connectTimeout: 1_000, commandTimeout: 2_000, maxRetriesPerRequest: 1 },
        clusterRetryStrategy: () => 200,
        // ioredis follows a MOVED for a lone command, not inside a MULTI (tally's):
        // after a failover, only a fresh slot map sends those to the new primary.
        slotsRefreshInterval: 1_000,
      },
    );
    // A primary goes away in some faults: this client just waits for the failover.
    redis.on('error', () => {});
    nc = await connect({
      servers: pipeline.nats.map((node) => new URL(node.url).host),
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: 250,
    });
    acked = new Acknowledged(pipeline.urls.status);
    acked.start();
    agreement = new Agreement(pipeline, nc, hosts);
    clients = pipeline.urls.grpc.map((url) => createLoadstarClient(url));
    // Both start on the first gateway; when it dies they resume on the second.
    subscribers = [new Subscriber(clients, [hosts[0]!]), new Subscriber(clients, [])];
    for (const subscriber of subscribers) subscriber.start();
    await eventually(async () => expect(await lagMs()).to.be.below(LAG_LIMIT_MS), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });

  after(async function () {
    this.timeout(120_000);
    for (const subscriber of subscribers) subscriber.stop();
    for (const client of clients) client.close();
    acked?.stop();
    agreement?.close();
    report(rows, Date.now() - began);
    redis?.disconnect();
    await nc?.close();
    await pipeline?.stopAll();
  });

  /** How far the slowest agent's newest value in Redis lags behind now. */
  async function lagMs(): Promise<number> {
    const latest = await Promise.all(
      hosts.map((h) => redis.hget(keys.hostLatest(h), 'seq').catch(() => null)),
    );
    return Math.max(
      ...latest.map((text) =>
        text ? Date.now() - Number(text.split('|')[0]) : Number.POSITIVE_INFINITY,
      ),
    );
  }

  const createdSoFar = () =>
    readAgents(pipeline.agentsDir, AGENTS).reduce((sum, r) => sum + r.created.length, 0);

  /** Each subscriber got every sample of its hosts created so far, once and in order. */
  async function checkSubscribers(records: HostRecord[]): Promise<void> {
    for (const [i, subscriber] of subscribers.entries()) {
      const watched = i === 0 ? records.slice(0, 1) : records;
      await eventually(
        () => {
          for (const { host, created } of watched) {
            expect(subscriber.seqsOf(host).length, host).to.be.at.least(created.length);
          }
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch((err: Error) => {
        const where = `on gateway ${subscriber.gateway + 1}, ${subscriber.received.length} events, ${subscriber.reconnects} reconnects`;
        const logs = pipeline.gateways.map((g) => `${g.name}:\n${g.tail()}`).join('\n');
        throw new Error(`subscriber ${i} (${where}) fell behind: ${err.message}\n${logs}`);
      });
      for (const { host, created } of watched) {
        const seqs = created.map((s) => s.metrics.seq!);
        const got = subscriber.seqsOf(host);
        const twice = got.length - new Set(got).size;
        expect(twice, `subscriber ${i}: ${host}'s samples got twice`).to.equal(0);
        expect(got.slice(0, seqs.length), `subscriber ${i}: ${host}, in order`).to.deep.equal(seqs);
      }
    }
  }

  /**
   * Kills one part, starts it again, waits for the pipeline to catch up, then
   * checks the invariants and measures the longest ack gap and the time until
   * every copy agrees (both from the kill).
   */
  async function run(fault: Fault, round: number): Promise<void> {
    const part = await fault.pick(round);
    const createdBefore = createdSoFar();
    const ackedBefore = await acked.poll();
    const killed = Date.now();
    part.signal('SIGKILL');
    await part.exited();
    let agreedAt = Number.POSITIVE_INFINITY;
    let disagreement = '';
    const agreed = eventually(() => agreement.check(), {
      timeoutMs: AGREE_LIMIT_MS,
      intervalMs: 200,
    }).then(
      () => {
        agreedAt = Date.now();
      },
      (err: Error) => {
        disagreement = err.message;
      },
    );
    let replacedAt: number | undefined;
    let notReplaced: Error | undefined;
    await Promise.all([
      wait(RESTART_AFTER_MS),
      fault.replaced?.().then(
        () => {
          replacedAt = Date.now();
        },
        (err: Error) => {
          notReplaced = err;
        },
      ),
    ]);
    // Back in any case, so that one failure does not take the next faults down with it.
    await part.start();
    if (notReplaced) throw new Error(`${part.name} was not replaced: ${notReplaced.message}`);
    let recovered = Number.POSITIVE_INFINITY;
    try {
      await eventually(async () => expect(await lagMs()).to.be.below(LAG_LIMIT_MS), {
        timeoutMs: RECOVERY_LIMIT_MS,
        intervalMs: 100,
      });
      recovered = Date.now() - killed;
    } catch {
      // Not recovered: the row says so, and the test fails below.
    }
    // A second of steady load after the recovery belongs to the fault's row too.
    const createdAtRecovery = createdSoFar();
    await eventually(
      () =>
        expect(createdSoFar() - createdAtRecovery).to.be.at.least((AGENTS * 1000) / AGENT_EVERY_MS),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const records = readAgents(pipeline.agentsDir, AGENTS);
    const result = await eventually(
      async () => {
        const t = await tally(redis, records);
        expect(t.lost).to.equal(0);
        return t;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch(() => tally(redis, records));
    await agreed;
    const gap = await acked.longestGap(killed);
    const row: Row = {
      fault: fault.name,
      sent: createdSoFar() - createdBefore,
      acknowledged: (await acked.poll()) - ackedBefore,
      lost: result.lost,
      duplicated: result.duplicated,
      ackGapSeconds: gap.ms / 1000,
      agreeSeconds: (agreedAt - killed) / 1000,
      ...(replacedAt === undefined ? {} : { replacedSeconds: (replacedAt - killed) / 1000 }),
    };
    rows.push(row);
    process.stderr.write(
      `  ${fault.name} (${part.name}): ${JSON.stringify(row)}, longest gap at ${gap.host}, caught up ${(recovered / 1000).toFixed(1)} s after the kill\n`,
    );
    expect(result.lost, 'lost').to.equal(0);
    expect(result.duplicated, `duplicated: ${result.details.join('; ')}`).to.equal(0);
    expect(result.latestWrong, 'hosts whose latest value is not their newest sample').to.equal(0);
    expect(Number.isFinite(recovered), 'every agent under 5 s behind again within 60 s').to.be.true;
    expect(disagreement, 'copies still disagreeing').to.equal('');
    expect(await outOfOrder(nc, hosts), 'hosts out of order in the stream').to.deep.equal([]);
    await checkSubscribers(records);
  }

  const jsm = () => nc.jetstreamManager({ timeout: 1_000 });
  let leader = '';

  /**
   * A Redis primary stays down until its replica has taken over (Debian's unit
   * would restart it within a second, before the cluster even notices).
   */
  function redisPrimary(name: string, key: () => Promise<string>): Fault {
    let killed: RedisNode | undefined;
    let slotKey = '';
    return {
      name,
      async pick() {
        slotKey = await key();
        killed = await pipeline.redisPrimaryOf(slotKey);
        return killed;
      },
      async replaced() {
        await eventually(
          async () => expect(await pipeline.redisPrimaryOf(slotKey, killed)).not.to.equal(killed),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
      },
    };
  }

  const faults: Fault[] = [
    {
      name: 'NATS node leading the samples stream',
      async pick() {
        leader = (await (await jsm()).streams.info(SAMPLES_STREAM)).cluster!.leader!;
        return pipeline.natsNode(leader);
      },
      async replaced() {
        await eventually(
          async () => {
            const now = (await (await jsm()).streams.info(SAMPLES_STREAM)).cluster?.leader;
            expect(now).to.be.a('string').and.not.equal(leader);
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        );
      },
    },
    {
      name: 'NATS follower',
      async pick(round) {
        const info = await (await jsm()).streams.info(SAMPLES_STREAM);
        const followers = info.cluster!.replicas!.map((r) => r.name);
        return pipeline.natsNode(followers[round % followers.length]!);
      },
    },
    // Every fold also updates the keys shared by all hosts ({loadstar}): their
    // primary's loss pauses every host, another primary's only the hosts it holds.
    redisPrimary('Redis primary of the all-hosts keys', async () => keys.latest),
    redisPrimary('Redis primary of some hosts only', async () => {
      const shared = await pipeline.redisPrimaryOf(keys.latest);
      for (const host of hosts) {
        const key = keys.hostLatest(host);
        if ((await pipeline.redisPrimaryOf(key)) !== shared) return key;
      }
      throw new Error('every agent host shares the primary of the all-hosts keys');
    }),
    { name: 'receiver', pick: async (round) => pipeline.receivers[(round - 1) % 2]! },
    { name: 'storage consumer', pick: async (round) => pipeline.consumers[(round - 1) % 2]! },
    {
      name: 'gateway (subscribers resume on the other)',
      pick: async () => pipeline.gateways[subscribers[0]!.gateway]!,
    },
  ];

  for (let round = 1; round <= ROUNDS; round++) {
    const suffix = ROUNDS > 1 ? ` (round ${round})` : '';
    for (const fault of faults) {
      it(`loses and doubles nothing when the ${fault.name} is killed with -9${suffix}`, async () => {
        await run(fault, round);
      });
    }
  }
});

/** The table of the run, to stdout and to test-results/cluster.md (for the README). */
function report(rows: Row[], elapsedMs: number): void {
  if (rows.length === 0) return;
  const byFault = new Map<string, Row[]>();
  for (const row of rows) byFault.set(row.fault, [...(byFault.get(row.fault) ?? []), row]);
  const max = (values: number[]) => {
    const top = Math.max(...values);
    return Number.isFinite(top) ? top.toFixed(1) : 'never';
  };
  const header = [
    'kill -9',
    'runs',
    'sent',
    'acknowledged',
    'lost',
    'duplicated',
    'longest ack gap s',
    'time to agree s',
    'replaced after s',
  ];
  const lines = [...byFault].map(([fault, runs]) => [
    fault,
    String(runs.length),
    String(runs.reduce((s, r) => s + r.sent, 0)),
    String(runs.reduce((s, r) => s + r.acknowledged, 0)),
    String(runs.reduce((s, r) => s + r.lost, 0)),
    String(runs.reduce((s, r) => s + r.duplicated, 0)),
    max(runs.map((r) => r.ackGapSeconds)),
    max(runs.map((r) => r.agreeSeconds)),
    runs[0]!.replacedSeconds === undefined ? '' : max(runs.map((r) => r.replacedSeconds ?? 0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(
    `\n${render(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${lines.map(render).join('\n')}\n\n`,
  );
  const nodeTimeout = /^cluster-node-timeout (\d+)$/m.exec(
    read(join(DEPLOY, 'redis-cluster', 'cluster.conf')),
  )?.[1];
  const versions = [
    runTool('nats-server', ['--version']).output,
    runTool('redis-server', ['--version']).output.split(' ').slice(0, 3).join(' '),
  ].join(', ');
  const markdown = [
    `Measured by the cluster test (\`CLUSTER_ROUNDS=${ROUNDS}\`) on ${new Date().toISOString().slice(0, 10)}: ` +
      `${cpus().length} cores, ${versions}, Node ${process.version}; ` +
      `${AGENTS} agents posting a sample every ${AGENT_EVERY_MS} ms to both receivers; ` +
      `cluster-node-timeout ${nodeTimeout} ms; ${(elapsedMs / 1000) | 0} s in all. ` +
      (Object.keys(SETTINGS).length > 0 ? `Settings: ${process.env.CLUSTER_SETTINGS}. ` : '') +
      'Gap, time to agree and the time until the cluster replaced the killed leader or ' +
      'primary are the largest over the runs, all counted from the kill.',
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...lines.map((cells) => `| ${cells.join(' | ')} |`),
    '',
  ].join('\n');
  mkdirSync(join(REPO, 'test-results'), { recursive: true });
  writeFileSync(join(REPO, 'test-results', 'cluster.md'), markdown);
}
