// `npm run bench [-- --quick]`: starts its own nats-server, redis-server and
// loadstar services on loopback, measures ingest, query, gRPC delivery and the
// producer's footprint, and prints one table. Stops everything it started, by PID.
// `-- --cluster` measures 1 against 2 copies of the services instead (scale-out.ts);
// `-- --storage` only the Redis storage figures (storage.ts), which the full run ends with;
// `-- --dashboard` only the dashboard figures (dashboard.ts), which it also ends with;
// `-- --producer` only the agent's footprint beside node_exporter (producer-footprint.ts).
import { availableParallelism } from 'node:os';
import { METRICS_PER_BODY, QUERY_TOPICS, sampleBodies } from './bodies.ts';
import { compareWithCeiling, type Side } from './compare.ts';
import { measureDashboard } from './dashboard.ts';
import { type DeliveryFigures, measureDelivery } from './grpc-latency.ts';
import { measureHistory } from './history-queries.ts';
import { type LoadClient, LoadGenerator } from './load.ts';
import { type BenchOptions, type BenchPlan, parseOptions, planFor } from './options.ts';
import { CpuMeter } from './proc-stat.ts';
import { Processes } from './processes.ts';
import { measureFootprint } from './producer-footprint.ts';
import {
  type BenchResults,
  renderFootprint,
  renderIdle,
  renderNotes,
  renderTableOf,
} from './report.ts';
import { runScaleOut } from './scale-out.ts';
import { measureIdle } from './service-footprint.ts';
import { startCeiling, startLoadstar } from './services.ts';
import { measureStorage } from './storage.ts';
import { StoreBacklog } from './store-backlog.ts';

/** Subscribers per gRPC connection: each connection stands for one client process. */
const SUBSCRIBERS_PER_CONNECTION = 10;
/** Bodies per poster, cycled: enough that values change from one post to the next. */
const BODIES_PER_POSTER = 16;
/** Agents catching up after an outage: each posts batches of BATCH_SIZE (500) samples. */
const BATCH_POSTERS = 8;
const BATCH_SAMPLES = 500;

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function run(options: BenchOptions, plan: BenchPlan, processes: Processes) {
  step('starting nats-server, redis-server, receiver, store, gateway and the bare-Koa ceiling');
  const servers = await processes.startServers();
  const [loadstar, ceiling] = await Promise.all([
    startLoadstar(processes, servers),
    startCeiling(processes),
  ]);
  const rest = !options.ingestOnly;
  if (rest) step('services at idle: resident sets before anything is posted');
  const idle = rest ? await measureIdle(loadstar) : [];
  const generator = LoadGenerator.start(processes);
  const backlog = await StoreBacklog.open(servers.nats.url);
  try {
    const pids = new Map([
      ['receiver', loadstar.receiver.pid],
      ['store', loadstar.store.pid],
      ['gateway', loadstar.gateway.pid],
      ['nats-server', servers.nats.pid()],
      ['redis-server', servers.redis.pid()],
      ['load', generator.child.pid],
      ['ceiling', ceiling.child.pid],
    ]);
    const meter = (...names: string[]) =>
      new CpuMeter(new Map(names.map((name) => [name, pids.get(name)!])));
    const pipelineProcesses = [
      'receiver',
      'store',
      'gateway',
      'nats-server',
      'redis-server',
      'load',
    ];

    step(
      `ingest: ${plan.concurrency} posters, ${plan.rounds} round(s) of ${plan.roundMs} ms per side`,
    );
    const posters: LoadClient[] = Array.from({ length: plan.concurrency }, (_, i) => ({
      headers: { 'content-type': 'application/json', 'Loadstar-Host': `bench-ingest-${i}` },
      bodies: sampleBodies(BODIES_PER_POSTER, i + 1),
    }));
    const ingest = await compareWithCeiling(
      generator,
      side('loadstar', loadstar.receiverUrl, 'POST', posters, meter(...pipelineProcesses), () =>
        backlog.drained(plan.catchUpMs),
      ),
      side('bare Koa', ceiling.postUrl, 'POST', posters, meter('ceiling', 'load')),
      plan,
      'ingest',
    );

    step(
      `ingest in batches: ${BATCH_POSTERS} posters, ${BATCH_SAMPLES} samples a batch, ${plan.rounds} round(s) per side`,
    );
    const batchPosters: LoadClient[] = Array.from({ length: BATCH_POSTERS }, (_, i) => ({
      headers: { 'content-type': 'application/json', 'Loadstar-Host': `bench-batch-${i}` },
      bodies: sampleBodies(BODIES_PER_POSTER, 500 + i),
    }));
    const batches = await compareWithCeiling(
      generator,
      side(
        'loadstar',
        `${loadstar.receiverUrl.replace(/\/+$/, '')}/batch`,
        'POST',
        batchPosters,
        meter(...pipelineProcesses),
        () => backlog.drained(plan.catchUpMs),
        BATCH_SAMPLES,
      ),
      side(
        'bare Koa',
        ceiling.postUrl,
        'POST',
        batchPosters,
        meter('ceiling', 'load'),
        undefined,
        BATCH_SAMPLES,
      ),
      plan,
      'batches',
    );

    const queryUrl = `${loadstar.gatewayUrl}?topics=${QUERY_TOPICS.join(',')}`;
    await checkQuery(queryUrl);
    step(`query: ${plan.concurrency} clients on ${queryUrl}`);
    const readers: LoadClient[] = Array.from({ length: plan.concurrency }, () => ({
      headers: {},
      bodies: [],
    }));
    const query = await compareWithCeiling(
      generator,
      side('loadstar', queryUrl, 'GET', readers, meter(...pipelineProcesses)),
      side('bare Koa', ceiling.getUrl, 'GET', readers, meter('ceiling', 'load')),
      plan,
      'query',
    );

    const delivery: DeliveryFigures[] = [];
    for (const subscribers of rest ? plan.subscriberCounts : []) {
      step(`gRPC: ${subscribers} subscriber(s), samples at ${plan.grpcRate}/s`);
      delivery.push(
        await measureDelivery(
          processes,
          {
            grpcAddress: loadstar.grpcAddress,
            receiverUrl: loadstar.receiverUrl,
            subscribers,
            perConnection: SUBSCRIBERS_PER_CONNECTION,
            host: `bench-grpc-${subscribers}`,
            topics: [...QUERY_TOPICS],
            rate: plan.grpcRate,
            measureMs: plan.grpcMeasureMs,
            windows: plan.grpcWindows,
            warmupMaxMs: plan.grpcWarmupMaxMs,
            body: sampleBodies(1, 7_000 + subscribers)[0]!,
          },
          new Map([
            ['gateway', loadstar.gateway.pid],
            ['receiver', loadstar.receiver.pid],
            ['nats-server', servers.nats.pid()],
          ]),
        ),
      );
    }

    if (rest)
      step('history: seeding 30 days at 1/min and 24 h at 1/5 s through the batch endpoint');
    const history = rest
      ? await measureHistory(
          loadstar.receiverUrl,
          loadstar.gatewayUrl,
          plan.historyRequests,
          plan.historyMaxMs,
        )
      : { figures: [] };

    const footprint = rest
      ? await measureFootprint(
          processes,
          loadstar,
          plan.producerIntervals,
          { warmupMs: plan.producerWarmupMs, windowMs: plan.producerWindowMs },
          step,
        )
      : null;

    const results: BenchResults = {
      quick: options.quick,
      cores: availableParallelism(),
      concurrency: plan.concurrency,
      metricsPerBody: METRICS_PER_BODY,
      topics: QUERY_TOPICS,
      grpcRate: plan.grpcRate,
      grpcWindows: plan.grpcWindows,
      grpcWindowMs: plan.grpcMeasureMs / plan.grpcWindows,
      perConnection: SUBSCRIBERS_PER_CONNECTION,
      ingest,
      batches,
      batchSamples: BATCH_SAMPLES,
      batchPosters: BATCH_POSTERS,
      query,
      delivery,
      history: history.figures,
    };
    process.stdout.write(
      `\n${renderTableOf(results)}\n\n${renderNotes(results)}\n${footprint ? `\n${renderIdle(idle)}\n\n${renderFootprint(footprint)}\n` : ''}`,
    );
    if (rest) {
      process.stdout.write(
        `\n${await measureStorage(processes, { queries: plan.storageQueries }, step)}\n\n`,
      );
      process.stdout.write(`\n${await measureDashboard(processes, plan.dashboard, step)}\n\n`);
    }
  } finally {
    await backlog.close();
  }
}

/** `--producer`: only the agent's footprint, beside node_exporter, posting to a real pipeline. */
async function runProducer(options: BenchOptions, plan: BenchPlan, processes: Processes) {
  step('starting nats-server, redis-server, receiver, store and gateway for the agent to post to');
  const loadstar = await startLoadstar(processes, await processes.startServers());
  step('services at idle: resident sets before anything is posted');
  const idle = await measureIdle(loadstar);
  const footprint = await measureFootprint(
    processes,
    loadstar,
    plan.producerIntervals,
    { warmupMs: plan.producerWarmupMs, windowMs: plan.producerWindowMs },
    step,
  );
  process.stdout.write(`\n${renderIdle(idle)}\n\n${renderFootprint(footprint)}\n`);
  if (options.quick) process.stdout.write('--quick run: too short to quote.\n');
}

function side(
  name: string,
  url: string,
  method: 'GET' | 'POST',
  clients: LoadClient[],
  meter: CpuMeter,
  settle?: () => Promise<number>,
  batch?: number,
): Side {
  return {
    name,
    meter,
    settle,
    spec: (runId) => ({
      url,
      method,
      clients,
      stampSamples: method === 'POST',
      runId,
      batch,
    }),
  };
}

/** The query phase measures nothing unless the topics hold values: check once before. */
async function checkQuery(url: string): Promise<void> {
  const res = await fetch(url);
  const body = (await res.json()) as Record<string, unknown>;
  const missing = QUERY_TOPICS.filter((t) => typeof body[t] !== 'number');
  if (res.status !== 200 || missing.length > 0) {
    throw new Error(`${url} answered ${res.status} ${JSON.stringify(body)}; missing ${missing}`);
  }
}

const options = parseOptions(process.argv.slice(2));
const plan = planFor(options);
const processes = new Processes();
const interrupted = processes.stopOnSignals('the bench', step);

const started = Date.now();
try {
  if (options.cluster) process.stdout.write(`\n${await runScaleOut(plan, processes)}\n\n`);
  else if (options.storage)
    process.stdout.write(
      `\n${await measureStorage(processes, { queries: plan.storageQueries }, step)}\n\n`,
    );
  else if (options.producer) await runProducer(options, plan, processes);
  else if (options.dashboard)
    process.stdout.write(`\n${await measureDashboard(processes, plan.dashboard, step)}\n\n`);
  else await run(options, plan, processes);
  step(`bench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
} catch (err) {
  // Once interrupted, a phase failing because its processes went is expected, not news.
  if (!interrupted())
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`,
    );
  process.exitCode = 1;
} finally {
  await processes.stopAll();
}
