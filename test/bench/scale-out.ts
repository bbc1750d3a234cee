// `npm run bench -- --cluster`: what a second copy of the receiver and of the
// storage consumer buys on this machine. Ingest through 1 receiver + 1 consumer,
// then 2 + 2 (agents split over the receivers, as with several RECEIVER_URLs);
// then the storage consumers' own rate on a backlog that only the stream holds
// (a rebuild, or a consumer back from an outage), with 1 and with 2 copies
// sharing the durable consumer. NATS and Redis stay single servers here, so the
// figures are the services' own; CPU per sample feeds docs/SCALING.md.
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { keys } from '../../proto/keys.ts';
import { encodeSample, type Sample } from '../../proto/sample.ts';
import { packedTokens } from '../../proto/store/codec.ts';
import { SAMPLES_STREAM, sampleMsgId, sampleSubject } from '../../proto/subjects.ts';
import { Folder } from '../../receiver/fold.ts';
import { freePort } from '../harness/servers.ts';
import { sampleBodies } from './bodies.ts';
import { type LoadClient, LoadGenerator, type LoadResult } from './load.ts';
import type { BenchPlan } from './options.ts';
import { median } from './percentile.ts';
import { CpuMeter } from './proc-stat.ts';
import { type Child, type Processes, waitReady } from './processes.ts';
import { StoreBacklog } from './store-backlog.ts';
import { count, renderTable } from './table.ts';

const BODIES_PER_POSTER = 16;
/** Samples put straight into the stream for each consumer-rate measurement. */
const BACKLOG_SAMPLES = 20_000;
const BACKLOG_HOSTS = 200;
const PUBLISH_IN_FLIGHT = 500;
/** Folds timed in Redis for the per-script cost. */
const SCRIPT_CALLS = 5_000;
/** Hosts and 5-second samples per host folded to weigh Redis memory (2,000 samples: 2 h 47 min). */
const MEMORY_HOSTS = 10;
const MEMORY_SAMPLES_PER_HOST = 2_000;

interface Copy {
  child: Child;
  readyUrl: string;
}

interface Layout {
  label: string;
  receivers: number;
  consumers: number;
  /** Median samples/s over the rounds, summed over the load generators. */
  perSecond: number;
  p99Ms: number;
  failed: number;
  /** CPU µs per sample, per kind of process. */
  cpuPerSample: Map<string, number>;
}

interface DrainFigures {
  consumers: number;
  perSecond: number;
  cpuPerSample: Map<string, number>;
}

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

export async function runScaleOut(plan: BenchPlan, processes: Processes): Promise<string> {
  processes.buildServices();
  const servers = await processes.startServers();
  const settings = (ports: { receiver: number; consumer: number }) => ({
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    RECEIVER_URL: `http://127.0.0.1:${ports.receiver}/data`,
    STORE_URL: `http://127.0.0.1:${ports.consumer}/`,
  });
  const copies = await Promise.all(
    [1, 2].map(async (n) => ({
      n,
      env: settings({ receiver: await freePort(), consumer: await freePort() }),
    })),
  );
  const startReceiver = async (n: number): Promise<Copy> => {
    const env = copies[n - 1]!.env;
    const child = processes.startNode(`receiver-${n}`, 'receiver/main.ts', env, { built: true });
    const readyUrl = new URL('/readyz', env.RECEIVER_URL).href;
    await waitReady(child, readyUrl);
    return { child, readyUrl };
  };
  const startConsumer = async (n: number): Promise<Copy> => {
    const env = copies[n - 1]!.env;
    const child = processes.startNode(`store-${n}`, 'receiver/store/main.ts', env, {
      built: true,
    });
    const readyUrl = `${env.STORE_URL}readyz`;
    await waitReady(child, readyUrl);
    return { child, readyUrl };
  };

  const backlog = await StoreBacklog.open(servers.nats.url);
  const nc = await connect({ servers: new URL(servers.nats.url).host });
  const generators = [LoadGenerator.start(processes), LoadGenerator.start(processes)];
  try {
    const receivers = [await startReceiver(1)];
    const consumers = [await startConsumer(1)];
    const layouts: Layout[] = [];
    layouts.push(await ingest('1 receiver, 1 store', receivers, consumers));
    receivers.push(await startReceiver(2));
    consumers.push(await startConsumer(2));
    layouts.push(await ingest('2 receivers, 2 stores', receivers, consumers));

    // The consumers' own rate: a backlog only the stream holds, folded by 1 copy, then by 2.
    for (const c of consumers) await processes.stop(c.child);
    const drains: DrainFigures[] = [];
    for (const n of [1, 2]) {
      await fillStream(nc, `drain-${n}`);
      const running: Copy[] = [];
      for (let i = 1; i <= n; i++) running.push(await startConsumer(i));
      // Timed from the moment all copies are up: what is left then, over the time it takes.
      const left = await backlog.samples();
      const meter = new CpuMeter(
        new Map([
          ...running.map((c) => [c.child.name, c.child.pid] as [string, number]),
          ['redis-server', servers.redis.pid()],
          ['nats-server', servers.nats.pid()],
        ]),
      );
      const started = performance.now();
      meter.begin();
      await backlog.drained(300_000);
      meter.end();
      const seconds = (performance.now() - started) / 1000;
      drains.push({
        consumers: n,
        perSecond: left / seconds,
        cpuPerSample: perSample(meter.seconds(), left),
      });
      step(
        `  consumers: ${n} cop${n === 1 ? 'y' : 'ies'} folded ${count(left)} in ${seconds.toFixed(1)} s`,
      );
      for (const c of running) await processes.stop(c.child);
    }
    step('redis: time spent per fold script call (INFO commandstats)');
    const scripts = await measureScripts(servers.redis.url);
    const stream = await (await nc.jetstreamManager()).streams.info(SAMPLES_STREAM);
    const perMessage = stream.state.bytes / Math.max(1, stream.state.messages);
    return `${render(layouts, drains)}\n\n${renderScripts(scripts)}\n\nJetStream: ${count(perMessage)} bytes per sample stored in the stream (20 metrics), ${((perMessage * 17_280) / 2 ** 20).toFixed(1)} MiB per host-day at INTERVAL=5, per replica`;
  } finally {
    await nc.close();
    await backlog.close();
  }

  async function ingest(label: string, receivers: Copy[], consumers: Copy[]): Promise<Layout> {
    step(
      `ingest, ${label}: ${plan.concurrency} posters, ${plan.rounds} round(s) of ${plan.roundMs} ms`,
    );
    const pids = new Map<string, number>([
      ...receivers.map((r) => [r.child.name, r.child.pid] as [string, number]),
      ...consumers.map((c) => [c.child.name, c.child.pid] as [string, number]),
      ['nats-server', servers.nats.pid()],
      ['redis-server', servers.redis.pid()],
    ]);
    const meter = new CpuMeter(pids);
    const rounds: { perSecond: number; p99: number; failed: number; ok: number }[] = [];
    const round = async (runId: string, durationMs: number) => {
      // Each generator takes half the posters, aimed at "its" receiver: with one receiver, the same one.
      const results: LoadResult[] = await Promise.all(
        generators.map((generator, g) => {
          const receiver = copies[g % receivers.length]!.env.RECEIVER_URL;
          const clients: LoadClient[] = Array.from({ length: plan.concurrency / 2 }, (_, i) => ({
            headers: {
              'content-type': 'application/json',
              'Loadstar-Host': `bench-scale-${g}-${i}`,
            },
            bodies: sampleBodies(BODIES_PER_POSTER, g * 100 + i + 1),
          }));
          return generator.run({
            url: receiver,
            method: 'POST',
            clients,
            durationMs,
            maxRequests: plan.maxRequestsPerRound,
            stampSamples: true,
            runId: `${runId}-${g}`,
          });
        }),
      );
      await backlog.drained(plan.catchUpMs);
      return results;
    };
    await round(`scale-${label.length}-warm-${Date.now()}`, plan.warmupMs);
    for (let r = 0; r < plan.rounds; r++) {
      meter.begin();
      const results = await round(`scale-${receivers.length}-${r}-${Date.now()}`, plan.roundMs);
      meter.end();
      const perSecond = results.reduce((sum, x) => sum + x.perSecond, 0);
      rounds.push({
        perSecond,
        p99: Math.max(...results.map((x) => x.latency.p99)),
        failed: results.reduce((sum, x) => sum + x.failed, 0),
        ok: results.reduce((sum, x) => sum + x.ok, 0),
      });
      step(`  round ${r + 1}/${plan.rounds}: ${Math.round(perSecond)} samples/s`);
    }
    const samples = rounds.reduce((sum, x) => sum + x.ok, 0);
    return {
      label,
      receivers: receivers.length,
      consumers: consumers.length,
      perSecond: median(rounds.map((x) => x.perSecond)),
      p99Ms: median(rounds.map((x) => x.p99)),
      failed: rounds.reduce((sum, x) => sum + x.failed, 0),
      cpuPerSample: perSample(meter.seconds(), samples),
    };
  }
}

/** Puts BACKLOG_SAMPLES new samples into the stream, as receivers would have, without folding them. */
async function fillStream(nc: NatsConnection, runId: string): Promise<void> {
  const js = nc.jetstream();
  const body = JSON.parse(sampleBodies(1, 4242)[0]!) as Record<string, number>;
  const now = Date.now();
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < BACKLOG_SAMPLES; i++) {
    const host = `bench-drain-${runId}-${i % BACKLOG_HOSTS}`;
    const id = `${runId}-${i}`;
    const sample = { host, id, time: now - BACKLOG_SAMPLES + i, interval: 5, metrics: body };
    inFlight.push(
      js.publish(sampleSubject(host), encodeSample(sample), { msgID: sampleMsgId(host, id) }),
    );
    if (inFlight.length >= PUBLISH_IN_FLIGHT) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
}

/** CPU µs per sample, the copies of one service summed (receiver-1 + receiver-2 → receiver). */
function perSample(seconds: Map<string, number>, samples: number): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const [name, s] of seconds) {
    const kind = name.replace(/-\d+$/, '');
    byKind.set(kind, (byKind.get(kind) ?? 0) + s);
  }
  return new Map([...byKind].map(([kind, s]) => [kind, (s * 1e6) / Math.max(1, samples)]));
}

function render(layouts: Layout[], drains: DrainFigures[]): string {
  const kinds = ['receiver', 'store', 'nats-server', 'redis-server'];
  const us = (m: Map<string, number>, kind: string) => {
    const v = m.get(kind);
    return v === undefined || !Number.isFinite(v) ? '-' : String(Math.round(v));
  };
  const ingestTable = renderTable(
    [
      'ingest (POST one sample)',
      'samples/s',
      'p99 ms',
      'failed',
      ...kinds.map((k) => `${k} µs/sample`),
    ],
    layouts.map((l) => [
      l.label,
      count(l.perSecond),
      l.p99Ms.toFixed(0),
      count(l.failed),
      ...kinds.map((k) => us(l.cpuPerSample, k)),
    ]),
  );
  const drainTable = renderTable(
    [
      'storage consumer on a stream backlog',
      'samples/s',
      ...['store', 'nats-server', 'redis-server'].map((k) => `${k} µs/sample`),
    ],
    drains.map((d) => [
      `${d.consumers} cop${d.consumers === 1 ? 'y' : 'ies'} sharing loadstar-store`,
      count(d.perSecond),
      ...['store', 'nats-server', 'redis-server'].map((k) => us(d.cpuPerSample, k)),
    ]),
  );
  const gain = layouts.length === 2 ? layouts[1]!.perSecond / layouts[0]!.perSecond : Number.NaN;
  const drainGain = drains.length === 2 ? drains[1]!.perSecond / drains[0]!.perSecond : Number.NaN;
  return [
    ingestTable,
    '',
    drainTable,
    '',
    `2 copies / 1 copy: ingest ${gain.toFixed(2)}x, store backlog ${drainGain.toFixed(2)}x ` +
      '(on a machine whose cores are all busy already, a second copy only shares them; ' +
      'the µs/sample columns are what each part costs, whatever the number of cores).',
  ].join('\n');
}

interface ScriptCosts {
  /** µs inside Redis per call of the single-server fold (both parts as one script). */
  whole: number;
  /** µs per call of the cross-host part alone (the one call per sample that, on a Redis Cluster, always lands on the slot of {loadstar}). */
  latest: number;
  /** Redis memory per folded sample, by kind of key. */
  memory: Map<string, number>;
}

/** Redis's own time per script call, from INFO commandstats: no client or network in it. */
async function measureScripts(redisUrl: string): Promise<ScriptCosts> {
  const redis = new Redis(redisUrl);
  try {
    const folder = new Folder(redis, {
      horizonMs: 86_400_000,
      rawRetentionMs: 86_400_000,
      minuteRetentionMs: 86_400_000,
    });
    const metrics = JSON.parse(sampleBodies(1, 99)[0]!) as Record<string, number>;
    const samples: Sample[] = Array.from({ length: SCRIPT_CALLS }, (_, i) => ({
      host: `bench-script-${i % BACKLOG_HOSTS}`,
      id: `script-${i}`,
      time: Date.now() - SCRIPT_CALLS + i,
      interval: 5,
      metrics,
    }));
    /** Redis time in scripts per sample (folds go in calls of several samples). */
    const perSample = async (run: () => Promise<unknown>) => {
      await redis.config('RESETSTAT');
      await run();
      const stats = await redis.info('commandstats');
      let usec = 0;
      for (const m of stats.matchAll(/cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/g)) {
        usec += Number(m[2]);
      }
      return usec / samples.length;
    };
    const whole = await perSample(() => Promise.all(samples.map((x) => folder.fold(x))));
    const latest = await perSample(() =>
      Promise.all(
        samples.map((x) =>
          // fold.lua's arguments with only what the cross-host part reads: the samples.
          redis.loadstarFoldLatest(
            2,
            keys.latest,
            keys.hosts,
            86_400_000,
            86_400_000,
            x.host,
            '',
            '',
            '',
            1,
            '',
            String(x.time + SCRIPT_CALLS),
            '5',
            packedTokens(x.metrics),
            '',
            '',
            0,
            '',
            0,
          ),
        ),
      ),
    );
    const memory = await weigh(redis, folder);
    return { whole, latest, memory };
  } finally {
    redis.disconnect();
  }
}

/**
 * Redis memory per sample, by kind of key (MEMORY USAGE), for hosts folding one
 * every 5 s as agents at INTERVAL=5 do: raw points, one-minute aggregates, the
 * dedup record, and the rest (latest values, metric set, meta, append state).
 */
async function weigh(redis: Redis, folder: Folder): Promise<Map<string, number>> {
  const start = Date.now() - MEMORY_SAMPLES_PER_HOST * 5_000;
  for (let h = 0; h < MEMORY_HOSTS; h++) {
    await Promise.all(
      Array.from({ length: MEMORY_SAMPLES_PER_HOST }, (_, i) =>
        folder.fold({
          host: `bench-memory-${h}`,
          id: `m${i}`,
          time: start + i * 5_000,
          interval: 5,
          metrics: JSON.parse(sampleBodies(1, h * 100_000 + i)[0]!) as Record<string, number>,
        }),
      ),
    );
  }
  const bytes = new Map<string, number>();
  for (let h = 0; h < MEMORY_HOSTS; h++) {
    const prefix = `ls:{bench-memory-${h}}:`;
    for (const key of await redis.keys(`${prefix}*`)) {
      const suffix = key.slice(prefix.length);
      const kind = suffix.startsWith('r:')
        ? 'raw history'
        : suffix.startsWith('m:')
          ? 'one-minute aggregates'
          : suffix.startsWith('d:')
            ? 'dedup record'
            : 'latest values, metric set, meta, state';
      const size = Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
      bytes.set(kind, (bytes.get(kind) ?? 0) + size);
    }
  }
  const samples = MEMORY_HOSTS * MEMORY_SAMPLES_PER_HOST;
  return new Map([...bytes].map(([kind, b]) => [kind, b / samples]));
}

function renderScripts(costs: ScriptCosts): string {
  const perDay = (bytes: number) => `${((bytes * 17_280) / 2 ** 20).toFixed(1)} MiB`;
  const total = [...costs.memory.values()].reduce((a, b) => a + b, 0);
  return renderTable(
    ['redis-server, per sample of 20 metrics', 'per sample', 'per host-day at INTERVAL=5'],
    [
      [
        'Redis script time per sample: the whole fold (single server)',
        `${costs.whole.toFixed(1)} µs`,
        '',
      ],
      [
        'Redis script time per sample: cross-host part alone (on a Cluster: the {loadstar} slot)',
        `${costs.latest.toFixed(1)} µs`,
        '',
      ],
      ...[...costs.memory].map(([kind, b]) => [`memory: ${kind}`, `${count(b)} B`, perDay(b)]),
      ['memory: all', `${count(total)} B`, perDay(total)],
    ],
  );
}
