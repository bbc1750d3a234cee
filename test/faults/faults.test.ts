// The fault suite (`npm run test:faults`; once per fault in `npm test`): every
// part runs as its own process, simulated agents keep a steady load, and one
// fault at a time is injected. After each, the suite waits for recovery and
// checks against the agents' own records: lost = 0, duplicated = 0, latest
// values right, lag back under 5 s within 30 s; then prints a table.
// FAULT_ROUNDS=20 runs each fault 20 times.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { connectNats } from '../../deploy/runtime/nats.ts';
import { connectRedis } from '../../deploy/runtime/redis.ts';
import { createLoadstarClient, type LoadstarClient } from '../../proto/grpc.ts';
import { keys } from '../../proto/keys.ts';
import { Folder } from '../../receiver/fold.ts';
import { refold } from '../../receiver/store/refold.ts';
import { eventually } from '../harness/eventually.ts';
import { outOfOrder, readAgents, tally } from './invariants.ts';
import { Acknowledged, Subscriber } from './observers.ts';
import { FaultPipeline, type PartName } from './pipeline.ts';

const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 1);
const AGENTS = 10;
const AGENT_EVERY_MS = 200;
/** How long a part stays down after kill -9, stays stopped (SIGSTOP), or stays cut off. */
const DOWN_MS = 2_000;
const PAUSE_MS = 10_000;
const PARTITION_MS = 10_000;
const LAG_LIMIT_MS = 5_000;
const RECOVERY_LIMIT_MS = 30_000;

interface Row {
  fault: string;
  created: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  recoverSeconds: number;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('faults', function () {
  this.timeout(0);
  let pipeline: FaultPipeline;
  let redis: Redis;
  let nc: NatsConnection;
  let acked: Acknowledged;
  let client: LoadstarClient;
  let subscriber: Subscriber;
  const rows: Row[] = [];
  const partitionProblem = FaultPipeline.canPartition();

  before(async function () {
    this.timeout(120_000);
    pipeline = await FaultPipeline.start({ agents: AGENTS, agentEveryMs: AGENT_EVERY_MS });
    redis = new Redis(pipeline.redis.url, {
      maxRetriesPerRequest: 1,
      retryStrategy: () => 200,
      enableOfflineQueue: true,
    });
    // Redis goes away in some faults: this client just waits for it.
    redis.on('error', () => {});
    nc = await connect({
      servers: new URL(pipeline.nats.url).host,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
    });
    acked = new Acknowledged(pipeline.urls.status);
    acked.start();
    client = createLoadstarClient(pipeline.urls.grpc);
    subscriber = new Subscriber([client], ['fault-agent-0']);
    subscriber.start();
    // A steady state to start from: every agent's samples arriving.
    await eventually(async () => expect(await lagMs()).to.be.below(LAG_LIMIT_MS), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });

  after(async function () {
    this.timeout(120_000);
    subscriber?.stop();
    client?.close();
    acked?.stop();
    printTable(rows);
    redis?.disconnect();
    await nc?.close();
    await pipeline?.stopAll();
  });

  /** How far the slowest agent's newest value in Redis lags behind now. */
  async function lagMs(): Promise<number> {
    const hosts = Array.from({ length: AGENTS }, (_, i) => `fault-agent-${i}`);
    const latest = await Promise.all(
      hosts.map((h) => redis.hget(keys.hostLatest(h), 'seq').catch(() => null)),
    );
    return Math.max(
      ...latest.map((text) =>
        text ? Date.now() - Number(text.split('|')[0]) : Number.POSITIVE_INFINITY,
      ),
    );
  }

  /**
   * Injects one fault, then measures: time until the lag is under 5 s again,
   * and (once every sample created so far has had time to arrive) lost and doubled.
   */
  async function run(fault: string, inject: () => Promise<void>): Promise<Row> {
    const createdBefore = readAgents(pipeline.agentsDir, AGENTS).reduce(
      (sum, r) => sum + r.created.length,
      0,
    );
    const ackedBefore = await acked.poll();
    const injected = Date.now();
    await inject();
    const back = Date.now();
    let recovered = Number.POSITIVE_INFINITY;
    try {
      await eventually(async () => expect(await lagMs()).to.be.below(LAG_LIMIT_MS), {
        timeoutMs: RECOVERY_LIMIT_MS + 30_000,
        intervalMs: 100,
      });
      recovered = Date.now() - back;
    } catch {
      // Not recovered: the row says so, and the test fails below.
    }
    // A second of steady load after the recovery belongs to the fault's row too.
    const createdAtRecovery = readAgents(pipeline.agentsDir, AGENTS).reduce(
      (sum, r) => sum + r.created.length,
      0,
    );
    await eventually(
      () => {
        const now = readAgents(pipeline.agentsDir, AGENTS).reduce(
          (sum, r) => sum + r.created.length,
          0,
        );
        expect(now - createdAtRecovery).to.be.at.least((AGENTS * 1000) / AGENT_EVERY_MS);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const records = readAgents(pipeline.agentsDir, AGENTS);
    let result = await tally(redis, records);
    try {
      result = await eventually(
        async () => {
          const t = await tally(redis, records);
          expect(t.lost).to.equal(0);
          return t;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    } catch {
      result = await tally(redis, records);
    }
    // Both counted over the same span: from before the fault to now.
    const createdNow = readAgents(pipeline.agentsDir, AGENTS).reduce(
      (sum, r) => sum + r.created.length,
      0,
    );
    const row: Row = {
      fault,
      created: createdNow - createdBefore,
      acknowledged: (await acked.poll()) - ackedBefore,
      lost: result.lost,
      duplicated: result.duplicated,
      recoverSeconds: recovered / 1000,
    };
    rows.push(row);
    process.stderr.write(
      `  fault ${fault}: ${JSON.stringify(row)} (injected for ${((back - injected) / 1000).toFixed(1)} s)\n`,
    );
    expect(result.lost, 'lost').to.equal(0);
    expect(result.duplicated, `duplicated: ${result.details.join('; ')}`).to.equal(0);
    expect(result.latestWrong, 'hosts whose latest value is not their newest sample').to.equal(0);
    expect(recovered, 'ms until the lag was under 5 s again').to.be.at.most(RECOVERY_LIMIT_MS);
    return row;
  }

  const parts: PartName[] = [
    'agents',
    'receiver',
    'store',
    'gateway',
    'nats-server',
    'redis-server',
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    const suffix = ROUNDS > 1 ? ` (round ${round})` : '';

    for (const name of parts) {
      it(`loses and doubles nothing when ${name} is killed with -9${suffix}`, async () => {
        await run(`kill -9 ${name}`, async () => {
          const part = pipeline.parts[name];
          part.signal('SIGKILL');
          await part.exited();
          await wait(DOWN_MS);
          await part.start();
        });
      });
    }

    for (const name of parts) {
      it(`loses and doubles nothing when ${name} is stopped (SIGSTOP) for 10 s${suffix}`, async () => {
        await run(`SIGSTOP ${name} 10 s`, async () => {
          const part = pipeline.parts[name];
          part.signal('SIGSTOP');
          await wait(PAUSE_MS);
          part.signal('SIGCONT');
          await part.ready();
        });
      });
    }

    for (const [from, to] of [
      ['receiver', 'nats-server'],
      ['store', 'redis-server'],
    ] as const) {
      it(`loses and doubles nothing when ${from} and ${to} are cut off from each other for 10 s${suffix}`, async function () {
        if (partitionProblem) {
          process.stderr.write(`  skipped: ${partitionProblem}\n`);
          this.skip();
        }
        await run(`partition ${from} / ${to}`, async () => {
          const heal = pipeline.partition(from, to);
          try {
            await wait(PARTITION_MS);
          } finally {
            heal();
          }
        });
      });
    }

    it(`refills Redis restarted empty${suffix}`, async () => {
      const rebuilds = async () => {
        const text = await (await fetch(`${pipeline.urls.consumer}metrics`)).text();
        return Number(/^loadstar_store_rebuilds_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
      };
      const before = await rebuilds();
      await run('restart redis-server empty', async () => {
        await pipeline.parts['redis-server'].stop();
        await pipeline.parts['redis-server'].start();
      });
      // Redis came back with nothing: the storage consumer noticed and refolded the stream.
      expect(await rebuilds()).to.be.above(before);
    });

    it(`rides through a restart of nats-server${suffix}`, async () => {
      await run('restart nats-server', async () => {
        await pipeline.parts['nats-server'].stop();
        await pipeline.parts['nats-server'].start();
      });
    });

    it(`changes nothing when the whole stream is folded into Redis again, twice${suffix}`, async () => {
      await run('replay whole stream twice', async () => {
        const log = createMemoryLog('replay');
        const link = await connectNats(
          {
            servers: [new URL(pipeline.nats.url)],
            replicas: 1,
            streamMaxAgeMs: 86_400_000,
            streamMaxBytes: -1,
            duplicateWindowMs: 5_000,
          },
          'faults',
          log,
        );
        const client = await connectRedis({ urls: [new URL(pipeline.redis.url)] }, 'faults', log);
        try {
          const folder = new Folder(client, {
            horizonMs: 86_400_000,
            rawRetentionMs: 86_400_000,
            minuteRetentionMs: 30 * 86_400_000,
          });
          for (let i = 0; i < 2; i++) await refold(link, folder, 1, log);
        } finally {
          await link.close();
          client.disconnect();
        }
      });
    });

    it(`stores once a spool replayed after the duplicate window${suffix}`, async () => {
      await run('agent spool replayed after the window', async () => {
        // A copy of what agent 0 has delivered, sent again once it is older than JetStream remembers (5 s here).
        const source = join(pipeline.agentsDir, 'fault-agent-0', 'created.ndjson');
        const copy = join(pipeline.tempDir('spool-copy'), 'created.ndjson');
        copyFileSync(source, copy);
        const copied = Date.now();
        await eventually(() => expect(Date.now() - copied).to.be.above(6_000), {
          timeoutMs: 10_000,
          intervalMs: 200,
        });
        const replaying = await pipeline.replay(copy);
        await eventually(
          async () => {
            const res = await fetch(replaying.statusUrl);
            const body = (await res.json()) as { agents: { spooled: number; sent: number }[] };
            expect(body.agents[0]!.spooled).to.equal(0);
            expect(body.agents[0]!.sent).to.be.above(0);
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        await replaying.part.stop();
      });
    });
  }

  it('kept every host’s samples in order in the stream', async function () {
    this.timeout(120_000);
    const hosts = Array.from({ length: AGENTS }, (_, i) => `fault-agent-${i}`);
    expect(await outOfOrder(nc, hosts)).to.deep.equal([]);
  });

  it('gave a gRPC subscriber that resumes from its last position every sample of its host, once, in order', async function () {
    this.timeout(120_000);
    const created = readAgents(pipeline.agentsDir, AGENTS)[0]!.created.map((s) => s.metrics.seq!);
    const seqs = () => subscriber.seqsOf('fault-agent-0');
    await eventually(() => expect(seqs().length).to.be.at.least(created.length), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    const firstSeen = [...new Set(seqs())];
    expect(firstSeen.slice(0, created.length)).to.deep.equal([...created].sort((a, b) => a - b));
    process.stderr.write(
      `  gRPC subscriber: ${seqs().length} events, ${subscriber.reconnects} reconnects, ${seqs().length - firstSeen.length} repeated\n`,
    );
  });
});

function printTable(rows: Row[]): void {
  if (rows.length === 0) return;
  const byFault = new Map<string, Row[]>();
  for (const row of rows) byFault.set(row.fault, [...(byFault.get(row.fault) ?? []), row]);
  const header = [
    'fault',
    'runs',
    'created',
    'acknowledged',
    'lost',
    'duplicated',
    'recover s (max)',
  ];
  const lines = [...byFault].map(([fault, runs]) => [
    fault,
    String(runs.length),
    String(runs.reduce((s, r) => s + r.created, 0)),
    String(runs.reduce((s, r) => s + r.acknowledged, 0)),
    String(runs.reduce((s, r) => s + r.lost, 0)),
    String(runs.reduce((s, r) => s + r.duplicated, 0)),
    Number.isFinite(Math.max(...runs.map((r) => r.recoverSeconds)))
      ? Math.max(...runs.map((r) => r.recoverSeconds)).toFixed(1)
      : 'never',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(
    `\n${render(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${lines.map(render).join('\n')}\n\n`,
  );
}
