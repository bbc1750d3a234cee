// `npm run soak [-- --minutes 30 --rate 2000 --hosts 1000 --subscribers 100]`:
// the whole pipeline as real processes on loopback under a steady load for a
// long while; judges memory growth, lag and errors; writes soak.md and soak.png.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Child, Processes, REPO, waitReady } from '../bench/processes.ts';
import type { ServerProcess } from '../harness/servers.ts';
import { freePort } from '../harness/servers.ts';
import type { Slots } from './lags.ts';
import { RssSeries } from './memory.ts';
import { parseOptions, type SoakOptions } from './options.ts';
import { renderPlot } from './plot.ts';
import type {
  AgentsMessage,
  AgentsResult,
  AgentsSpec,
  CoordinatorMessage,
  SubscribersMessage,
  SubscribersResult,
} from './protocol.ts';
import { judge, renderConsole, renderMarkdown, type SoakRun, writeReport } from './report.ts';
import { type StoreSample, StoreWatch } from './stores.ts';

const SAMPLE_EVERY_MS = 10_000;
/** Subscribers per gRPC connection: each connection stands for one client process. */
const SUBSCRIBERS_PER_CONNECTION = 10;
/** After the agents stop: time for the consumers to catch up, then for the last deliveries. */
const DRAIN_MS = 60_000;
const STRAGGLER_MS = 5_000;
const AGENTS_FLUSH_MS = 30_000;

function step(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

interface Pipeline {
  receiverUrl: string;
  grpcAddress: string;
  children: Child[];
}

/** The four services, each a process as in production; the receiver first (it makes the stream). */
async function startPipeline(
  processes: Processes,
  servers: { nats: ServerProcess; redis: ServerProcess },
): Promise<Pipeline> {
  const [receiver, consumer, rules, gateway, grpc] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const settings = {
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    RECEIVER_URL: `http://127.0.0.1:${receiver}/data`,
    STORE_URL: `http://127.0.0.1:${consumer}/`,
    RULES_URL: `http://127.0.0.1:${rules}/`,
    WEB_SERVER_URL: `http://127.0.0.1:${gateway}/`,
    GRPC_URL: `127.0.0.1:${grpc}`,
    // Retention at its shortest, so the stores are full within the warm-up: memory
    // that grows after it is a leak, not data (docs/soak.md explains).
    SAMPLE_MAX_AGE: '1m',
    HISTORY_RAW_RETENTION: '1m',
    STREAM_MAX_AGE: '2m',
  };
  const receiverChild = processes.startNode('receiver', 'receiver/main.ts', settings);
  await waitReady(receiverChild, `http://127.0.0.1:${receiver}/readyz`);
  const others = [
    processes.startNode('store', 'receiver/store/main.ts', settings),
    processes.startNode('rules', 'receiver/rules/main.ts', settings),
    processes.startNode('gateway', 'gateway/main.ts', settings),
  ];
  await Promise.all([
    waitReady(others[0]!, `${settings.STORE_URL}readyz`),
    waitReady(others[1]!, `${settings.RULES_URL}readyz`),
    waitReady(others[2]!, `${settings.WEB_SERVER_URL}readyz`),
  ]);
  return {
    receiverUrl: settings.RECEIVER_URL,
    grpcAddress: settings.GRPC_URL,
    children: [receiverChild, ...others],
  };
}

/** Resolves with the first message of one of `kinds` from `child`; rejects if it errs, exits or times out. */
function answer<M extends { kind: string }>(
  child: Child,
  kinds: readonly string[],
  timeoutMs: number,
  onOther: (message: M) => void = () => {},
): Promise<M> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name} gave no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: M) => {
      if (message.kind === 'error') {
        cleanup();
        reject(new Error(`${child.name}: ${(message as unknown as { error: string }).error}`));
      } else if (kinds.includes(message.kind)) {
        cleanup();
        resolve(message);
      } else onOther(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${child.name} exited (${signal ?? code}):\n${child.tail()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}

function send(child: Child, message: CoordinatorMessage): void {
  child.process.send(message);
}

async function run(options: SoakOptions, processes: Processes): Promise<SoakRun> {
  const durationMs = options.minutes * 60_000;
  const warmupMs = options.warmupMinutes * 60_000;
  step(
    `soak: ${options.minutes} min at ${options.rate} samples/s from ${options.hosts} hosts, ` +
      `${options.subscribers} gRPC subscribers, judged after ${options.warmupMinutes} min`,
  );
  step('starting nats-server, redis-server, receiver, storage consumer, rules consumer, gateway');
  const servers = await processes.startServers();
  const pipeline = await startPipeline(processes, servers);
  const watch = await StoreWatch.open(servers.nats.url, servers.redis.url, options.hosts);
  try {
    const subscribers = processes.startNode(
      'subscribers',
      'test/soak/subscribers.ts',
      {},
      { ipc: true },
    );
    const agents = processes.startNode('agents', 'test/soak/agents.ts', {}, { ipc: true });
    // Short runs are cut in 10 s slots, so that even one minute has a judged span.
    const slotMs = options.minutes >= 5 ? 60_000 : 10_000;
    const startAt = Date.now() + 3_000;
    const slots: Slots = { startAt, slotMs, firstJudged: Math.ceil(warmupMs / slotMs) };

    const subscribed = answer<SubscribersMessage>(subscribers, ['ready'], 30_000);
    send(subscribers, {
      kind: 'subscribe',
      spec: {
        grpcAddress: pipeline.grpcAddress,
        hosts: options.hosts,
        subscribers: options.subscribers,
        perConnection: SUBSCRIBERS_PER_CONNECTION,
        slots,
      },
    });
    await subscribed;

    const spec: AgentsSpec = {
      receiverUrl: pipeline.receiverUrl,
      redisUrl: servers.redis.url,
      hosts: options.hosts,
      rate: options.rate,
      durationMs,
      slots,
      batchMax: 500,
      probeEvery: 20,
      flushMs: AGENTS_FLUSH_MS,
      rampMs: Math.min(30_000, warmupMs / 2),
    };
    const agentsDone = answer<AgentsMessage>(
      agents,
      ['result'],
      durationMs + AGENTS_FLUSH_MS + 60_000,
      (message) => {
        if (message.kind === 'progress') {
          const p = message.progress;
          step(
            `  agents: ${p.accepted.toLocaleString('en-US')} accepted, ${p.queued} queued, ${p.errors} errors`,
          );
        }
      },
    );
    send(agents, { kind: 'agents', spec });

    const pids = new Map<string, number>([
      ...pipeline.children.map((c) => [c.name, c.pid] as [string, number]),
      ['nats-server', servers.nats.pid()],
      ['redis-server', servers.redis.pid()],
      ['agents', agents.pid],
      ['subscribers', subscribers.pid],
    ]);
    const series = [...pids].map(([name, pid]) => new RssSeries(name, pid, startAt));
    const stores: (StoreSample & { atMs: number })[] = [];
    // One point every 10 s from the start to the end of the run: bounded by count.
    const points = Math.floor(durationMs / SAMPLE_EVERY_MS);
    for (let k = 0; k <= points; k++) {
      await sleep(startAt + k * SAMPLE_EVERY_MS - Date.now());
      const now = Date.now();
      for (const s of series) s.sample(now, startAt);
      const store = await watch.sample();
      stores.push({ atMs: now - startAt, ...store });
      if (k % 6 === 0) {
        const rss = series
          .map((s) => `${s.name} ${(s.points.at(-1)!.bytes / 2 ** 20).toFixed(0)}`)
          .join(', ');
        step(
          `  ${((now - startAt) / 60_000).toFixed(1)} min: RSS MB ${rss}; store backlog ${store.storeBacklog}, rules backlog ${store.rulesBacklog}`,
        );
      }
    }

    const agentsResult = ((await agentsDone) as { kind: 'result'; result: AgentsResult }).result;
    step('agents done; waiting for the consumers to catch up');
    const left = await watch.drained(DRAIN_MS);
    await sleep(STRAGGLER_MS);
    const finished = answer<SubscribersMessage>(subscribers, ['result'], 30_000);
    send(subscribers, { kind: 'finish' });
    const subscribersResult = ((await finished) as { kind: 'result'; result: SubscribersResult })
      .result;
    return judge({
      options,
      slots,
      durationMs,
      warmupMs,
      agents: agentsResult,
      subscribers: subscribersResult,
      series,
      stores,
      backlogLeft: left,
    });
  } finally {
    await watch.close();
  }
}

const options = parseOptions(process.argv.slice(2));
const processes = new Processes();
const interrupted = processes.stopOnSignals('the soak', step);

try {
  const result = await run(options, processes);
  await processes.stopAll();
  // resolve, not join: --out may be absolute.
  const outDir = resolve(REPO, options.outDir);
  mkdirSync(outDir, { recursive: true });
  process.stdout.write(`\n${renderConsole(result)}\n`);
  writeReport(join(outDir, 'soak.md'), renderMarkdown(result, options.outDir));
  await renderPlot(result, join(outDir, 'soak.png'));
  step(`wrote ${join(options.outDir, 'soak.md')} and ${join(options.outDir, 'soak.png')}`);
  if (!result.passed) process.exitCode = 1;
} catch (err) {
  if (!interrupted()) {
    process.stderr.write(
      `soak failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`,
    );
  }
  process.exitCode = 1;
} finally {
  await processes.stopAll();
}
