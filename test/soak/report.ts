// Turns one soak run into its verdicts (memory trend per process, rate held,
// errors) and into the console table and docs/soak.md.

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { LatencySummary } from '../bench/percentile.ts';
import { count, ms, renderTable } from '../bench/table.ts';
import type { Slots } from './lags.ts';
import { GROWTH_LIMIT, judgedCpu, judgeTrend, type RssSeries, type Trend } from './memory.ts';
import type { SoakOptions } from './options.ts';
import type { AgentsResult, SubscribersResult } from './protocol.ts';
import type { StoreSample } from './stores.ts';

/** The pipeline's processes, judged; the load processes are shown for scale only. */
export const JUDGED = ['receiver', 'store', 'rules', 'gateway', 'nats-server', 'redis-server'];
const LABELS: Record<string, string> = {
  receiver: 'receiver',
  store: 'storage consumer',
  rules: 'rules consumer',
  gateway: 'gateway',
  'nats-server': 'nats-server',
  'redis-server': 'redis-server',
  agents: 'simulated agents (load)',
  subscribers: 'gRPC subscribers (load)',
};

export interface RunInput {
  options: SoakOptions;
  slots: Slots;
  durationMs: number;
  warmupMs: number;
  agents: AgentsResult;
  subscribers: SubscribersResult;
  series: RssSeries[];
  stores: (StoreSample & { atMs: number })[];
  backlogLeft: { store: number; rules: number };
}

export interface ProcessFigures {
  name: string;
  label: string;
  trend: Trend;
  cpuPercent: number;
  judged: boolean;
  points: { atMs: number; bytes: number }[];
}

export interface SoakRun extends RunInput {
  date: string;
  cores: number;
  judgedSeconds: number;
  offeredPerSecond: number;
  acceptedPerSecond: number;
  held: boolean;
  processes: ProcessFigures[];
  /** Redis used_memory less its one-minute aggregates (which grow by design): what is judged for Redis. */
  redisLessAggregates: ProcessFigures;
  /** Accepted samples of the judged span that no subscriber received, and deliveries beyond them. */
  missing: number;
  extra: number;
  /** Each kind of error during the warm-up and in the judged span; the verdict looks at the latter. */
  errors: [what: string, warmup: number, judged: number][];
  passed: boolean;
}

const sum = (values: readonly number[], from: number) =>
  values.slice(from).reduce((a, b) => a + b, 0);

export function judge(input: RunInput): SoakRun {
  const { slots, agents, subscribers } = input;
  const judgedSeconds = (input.durationMs - slots.firstJudged * slots.slotMs) / 1000;
  const offered = sum(agents.made, slots.firstJudged);
  const accepted = sum(agents.accepted, slots.firstJudged);
  let missing = 0;
  let extra = 0;
  const slotCount = Math.max(agents.accepted.length, subscribers.received.length);
  for (let s = slots.firstJudged; s < slotCount; s++) {
    const diff = (agents.accepted[s] ?? 0) - (subscribers.received[s] ?? 0);
    if (diff > 0) missing += diff;
    else extra -= diff;
  }
  // Points up to the end of the run: the flush afterwards is not steady load.
  // (The last point is taken a moment after the end: timers fire late, never early.)
  const inRun = (p: { atMs: number }) => p.atMs <= input.durationMs + 5_000;
  const processes = input.series.map((s) => {
    const points = s.points.filter(inRun);
    return {
      name: s.name,
      label: LABELS[s.name] ?? s.name,
      trend: judgeTrend(points, input.warmupMs),
      cpuPercent: judgedCpu(points, input.warmupMs),
      judged: JUDGED.includes(s.name),
      points: points.map(({ atMs, bytes }) => ({ atMs, bytes })),
    };
  });
  const redis = processes.find((p) => p.name === 'redis-server')!;
  // What Redis holds by its own count (used_memory): its RSS also keeps the pages its
  // allocator holds on to as the aggregate hashes grow and are reallocated.
  const lessPoints = redis.points.map((p, i) => ({
    atMs: p.atMs,
    bytes:
      (input.stores[i]?.usedMemory ?? Number.NaN) -
      (input.stores[i]?.aggregatesBytes ?? Number.NaN),
  }));
  const redisLessAggregates: ProcessFigures = {
    name: 'redis-server-data',
    label: 'redis used_memory less aggregates',
    trend: judgeTrend(lessPoints, input.warmupMs),
    cpuPercent: Number.NaN,
    judged: true,
    points: lessPoints,
  };
  // Redis is judged without the aggregates it keeps 30 days by design.
  redis.judged = false;
  const incidents = input.stores.at(-1)?.incidents ?? 0;
  const split = (bySlot: number[], total: number): [number, number] => {
    const judged = sum(bySlot, slots.firstJudged);
    return [total - judged, judged];
  };
  const errors: [string, number, number][] = [
    ['posts answered other than 200, or failed', ...split(agents.errorsBySlot, agents.errors)],
    [
      'gRPC stream errors and unexpected ends',
      ...split(subscribers.errorsBySlot, subscribers.streamErrors),
    ],
    ['samples dropped by a full agent queue', 0, agents.dropped],
    ['samples still unsent after the flush', 0, agents.unsent],
    ['probed samples never readable in Redis', 0, agents.notVisible],
    ['accepted samples no subscriber received', 0, missing],
    ['consumer backlog left (store + rules)', 0, input.backlogLeft.store + input.backlogLeft.rules],
    ['incidents opened (values stay below every rule)', 0, incidents],
  ];
  const held = accepted >= offered * 0.99;
  const memoryOk = [...processes.filter((p) => p.judged), redisLessAggregates].every(
    (p) => p.trend.ok,
  );
  return {
    ...input,
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    cores: availableParallelism(),
    judgedSeconds,
    offeredPerSecond: offered / judgedSeconds,
    acceptedPerSecond: accepted / judgedSeconds,
    held,
    processes,
    redisLessAggregates,
    missing,
    extra,
    errors,
    passed: held && memoryOk && errors.every(([, , judged]) => judged === 0),
  };
}

const mb = (bytes: number) =>
  Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MB` : 'n/a';
const pct = (n: number) =>
  Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)} %` : 'n/a';
const lag = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p99)} ms`;

function memoryRows(run: SoakRun): string[][] {
  const row = (p: ProcessFigures) => [
    p.label,
    mb(p.trend.firstBytes),
    mb(p.trend.lastBytes),
    pct(p.trend.growth),
    `${mb(p.trend.firstMedianBytes)} → ${mb(p.trend.lastMedianBytes)}`,
    mb(p.trend.maxBytes),
    Number.isFinite(p.cpuPercent) ? `${p.cpuPercent.toFixed(0)} %` : '',
    p.judged
      ? p.trend.ok
        ? 'ok'
        : `GROWS > ${GROWTH_LIMIT * 100} %`
      : p.name === 'redis-server'
        ? 'see next line'
        : '(not judged)',
  ];
  const rows: string[][] = [];
  for (const p of run.processes) {
    rows.push(row(p));
    if (p.name === 'redis-server') rows.push(row(run.redisLessAggregates));
  }
  return rows;
}

const MEMORY_HEADER = [
  'process',
  'RSS floor, first third',
  'last third',
  'growth',
  'median, first → last third',
  'max',
  'CPU',
  'verdict',
];

function summaryRows(run: SoakRun): string[][] {
  const a = run.agents;
  const samples = a.batchedSamples + a.singlePosts;
  return [
    [
      'offered / accepted, judged span',
      `${count(run.offeredPerSecond)} / ${count(run.acceptedPerSecond)} samples/s`,
    ],
    ['rate held', run.held ? 'yes' : 'NO'],
    [
      'posts: single / batch (samples in batches)',
      `${count(a.singlePosts)} / ${count(a.batchPosts)} (${count(a.batchedSamples)}, ${((a.batchedSamples / samples) * 100).toFixed(0)} % of samples; largest ${a.largestBatch})`,
    ],
    ['post to 200, single p50 / p99', lag(a.singleLatency.judged)],
    ['post to 200, batch p50 / p99', lag(a.batchLatency.judged)],
    ['lag: sample time to readable in Redis, p50 / p99', lag(a.visibility.judged)],
    ['lag: sample time to gRPC delivery, p50 / p99', lag(run.subscribers.delivery.judged)],
    [
      'gRPC deliveries, judged span',
      `${count(run.subscribers.delivery.judged.count)} (${count(run.extra)} beyond accepted: resumed streams)`,
    ],
    [
      'largest agent queue; worst load-generator tick delay',
      `${count(a.largestQueue)} samples; ${count(a.worstTickLateMs)} ms`,
    ],
    [
      'errors, warm-up / judged span',
      `${count(run.errors.reduce((n, [, w]) => n + w, 0))} / ${count(run.errors.reduce((n, [, , j]) => n + j, 0))}`,
    ],
  ];
}

export function renderConsole(run: SoakRun): string {
  const errors = run.errors.filter(([, w, j]) => w + j > 0);
  return [
    renderTable(['figure', 'value'], summaryRows(run)),
    '',
    renderTable(MEMORY_HEADER, memoryRows(run)),
    '',
    errors.length === 0
      ? 'errors: none'
      : `errors (warm-up / judged):\n${errors.map(([what, w, j]) => `  ${what}: ${w} / ${j}`).join('\n')}\n  first: ${[...run.agents.firstErrors, ...run.subscribers.firstErrors].join(' | ')}`,
    '',
    run.passed ? 'soak PASSED' : 'soak FAILED',
  ].join('\n');
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replaceAll('|', '/')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function slotLabel(slot: number, slotMs: number): string {
  const seconds = (slot * slotMs) / 1000;
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

function perSlotRows(run: SoakRun): string[][] {
  const rows: string[][] = [];
  const find = (list: { slot: number }[], slot: number) => list.find((x) => x.slot === slot);
  const slotCount = Math.ceil(run.durationMs / run.slots.slotMs);
  for (let s = 0; s < slotCount; s++) {
    const seconds = run.slots.slotMs / 1000;
    const visible = find(run.agents.visibility.perSlot, s) as LatencySummary | undefined;
    const delivered = find(run.subscribers.delivery.perSlot, s) as LatencySummary | undefined;
    const single = find(run.agents.singleLatency.perSlot, s) as LatencySummary | undefined;
    const rss = (name: string) => {
      const p = run.processes.find((x) => x.name === name)?.points;
      const at = p?.filter((x) => x.atMs <= (s + 1) * run.slots.slotMs).at(-1);
      return at ? mb(at.bytes).replace(' MB', '') : '';
    };
    rows.push([
      `${slotLabel(s, run.slots.slotMs)}${s < run.slots.firstJudged ? ' (warm-up)' : ''}`,
      count((run.agents.made[s] ?? 0) / seconds),
      count((run.agents.accepted[s] ?? 0) / seconds),
      single ? ms(single.p99) : '',
      visible ? lag(visible) : '',
      delivered ? lag(delivered) : '',
      ['receiver', 'store', 'rules', 'gateway', 'nats-server', 'redis-server'].map(rss).join(' / '),
    ]);
  }
  return rows;
}

export function renderMarkdown(run: SoakRun, outDir: string): string {
  const o = run.options;
  const a = run.agents;
  const batchedShare = (a.batchedSamples / (a.batchedSamples + a.singlePosts)) * 100;
  const slotName = run.slots.slotMs === 60_000 ? 'minute' : `${run.slots.slotMs / 1000} s`;
  return `# Soak: ${o.minutes} minutes at ${count(o.rate)} samples/s

\`npm run soak\`${o.minutes === 10 && o.rate === 2_000 ? '' : ` -- --minutes ${o.minutes} --rate ${o.rate}`}, run ${run.date} UTC on
${run.cores} cores shared with other work. ${count(o.hosts)} simulated hosts post
${count(o.rate)} samples/s together (one every ${((o.hosts / o.rate) * 1000).toFixed(0)} ms each, 20 metrics per sample)
to a receiver; a storage consumer, a rules consumer and a gateway run beside it,
each its own process, with their own nats-server and redis-server on loopback.
${count(o.subscribers)} gRPC subscribers (\`Subscribe\`, ${o.subscribers / 10} connections) each watch
${Math.round(o.hosts / o.subscribers)} hosts (3 of the 20 metrics), so every sample is delivered once.
The first ${o.warmupMinutes} minutes are warm-up and not judged. **${run.passed ? 'Passed' : 'Failed'}**: ${run.held ? 'the rate was held' : 'the rate was NOT held'}, ${run.errors.every(([, , j]) => j === 0) ? 'no errors after the warm-up' : 'with errors (below)'}, and ${[...run.processes.filter((p) => p.judged), run.redisLessAggregates].every((p) => p.trend.ok) ? 'no process grows' : 'a process GROWS'}.

${markdownTable(['figure', 'value'], summaryRows(run))}

## Memory

Resident memory (\`VmRSS\` of \`/proc/<pid>/status\`) of every process, every 10 s.
A garbage-collected process saws up and down between its collections, and its
peaks rise with the requests it holds while the machine stalls; a leak raises
what it holds between those. So each minute's lowest reading, its floor, is
judged: a process passes when, after the warm-up, the median floor of the last
third of the judged span exceeds that of the first third by at most ${GROWTH_LIMIT * 100} %.
The medians of every reading of the same thirds are shown beside it.

${markdownTable(MEMORY_HEADER, memoryRows(run))}

![RSS per process over the run](soak.png)

Redis keeps one-minute aggregates for 30 days (\`HISTORY_1M_RETENTION\`, at
least an hour), so every minute adds a field per host and metric: that growth is
data, not a leak. Redis is therefore judged on the memory it holds by its own
count (\`INFO\` \`used_memory\`) less the memory of those aggregates (\`MEMORY
USAGE\` of every simulated host's aggregate keys, at each point); its RSS is
shown, not judged, since it also keeps the pages its allocator holds on to as
those hashes grow and are reallocated. Everything else the pipeline keeps is held at steady state by the
shortest retention the settings allow (\`SAMPLE_MAX_AGE=1m\`,
\`HISTORY_RAW_RETENTION=1m\`, \`STREAM_MAX_AGE=2m\`), so the stores are full
before the warm-up ends and any growth after it is the processes' own.

## Per ${slotName}

By the sample's own time. Rates in samples/s; lags p50 / p99; RSS in MB of
receiver / storage consumer / rules consumer / gateway / nats-server / redis-server.

${markdownTable(['from', 'made', 'accepted', 'single post p99 ms', 'to Redis', 'to gRPC', 'RSS MB'], perSlotRows(run))}

## Errors

${markdownTable(
  ['what', 'count'],
  run.errors.map(([what, n]) => [what, count(n)]),
)}
${[...a.firstErrors, ...run.subscribers.firstErrors].length > 0 ? `\nFirst errors: ${[...a.firstErrors, ...run.subscribers.firstErrors].map((e) => `\`${e}\``).join(', ')}\n` : ''}
## How the load is made, and why batches

Each simulated host behaves as the real agent (\`producer/sender.ts\`): it posts
its sample alone (\`POST RECEIVER_URL\`, the flat JSON with host, id, time and
interval in headers) while it is current, and once it holds more than one
sample (its previous post not yet answered when the next falls due, or a retry
pending) it posts what it holds as one batch (\`POST RECEIVER_URL/batch\`, at
most 500, the agent's \`BATCH_SIZE\`), oldest first, with the samples' own times.
Nothing is dropped or thinned: a host that falls behind catches up by batching,
exactly as an agent draining its spool does.

On this machine one single post costs about a millisecond of CPU spread over
receiver, nats-server and redis-server (\`npm run bench\`: about 1,500 single
posts/s with the whole machine), and here the consumers, the gateway and the
load share the same ${run.cores} cores. A host that falls behind (when a stall
holds its post past its next sample) batches: here ${batchedShare.toFixed(0)} % of the samples travelled in batches
(largest ${a.largestBatch}), and the agents' queues stayed at most ${count(a.largestQueue)} samples
deep in all. The rate held is the accepted rate above; the lags are measured
from each sample's own time, so they include the time a sample waited in its
host's queue.

- **Sample time to Redis**: after every ${count(20)}th accepted post, the host's
  latest \`cpu\` in Redis is read until it carries the post's newest sample time.
- **Sample time to gRPC delivery**: receive time in the subscriber process minus
  the sample's time, for every delivery.
- **Errors** count every answer other than 200, every failed post, samples
  refused in a batch, stream errors (a subscriber cut off as too slow would
  count, and resume from its last position), samples accepted but never
  delivered to their subscriber, and consumer backlog left after the run. The
  verdict counts those after the warm-up; the ones during it are listed too.

Run it again with \`npm run soak\` (about ${o.minutes + 1} minutes); \`npm run soak -- --minutes 1\`
checks the soak itself and writes to \`test-results/soak/\` instead of \`${outDir}/\`.
`;
}

export function writeReport(path: string, markdown: string): void {
  writeFileSync(path, markdown);
}
