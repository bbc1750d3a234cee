// Turns the figures of one run into the table the bench prints, and the note on
// where the time goes, backed by the CPU each process spent in the same rounds.
import type { Comparison, SideFigures } from './compare.ts';
import type { DeliveryFigures } from './grpc-latency.ts';
import type { HistoryFigures } from './history-queries.ts';
import type { FootprintFigures, Usage } from './producer-footprint.ts';
import type { IdleFigures } from './service-footprint.ts';
import { count, ms, percent, ratio, renderTable } from './table.ts';

export interface BenchResults {
  quick: boolean;
  cores: number;
  concurrency: number;
  metricsPerBody: number;
  topics: readonly string[];
  grpcRate: number;
  grpcWindows: number;
  grpcWindowMs: number;
  perConnection: number;
  ingest: Comparison;
  /** Batches of `batchSamples` samples from `batchPosters` posters. */
  batches: Comparison;
  batchSamples: number;
  batchPosters: number;
  query: Comparison;
  delivery: DeliveryFigures[];
  history: HistoryFigures[];
}

function verdict(met: boolean, target: string): string {
  return `${target} ${met ? 'met' : 'MISSED'}`;
}

function latencies(side: SideFigures): string {
  return `${ms(side.p50Ms)} / ${ms(side.p99Ms)} ms`;
}

export function renderTableOf(r: BenchResults): string {
  const rows: string[][] = [
    [
      `ingest: samples/s accepted, ${r.concurrency} posters`,
      count(r.ingest.pipeline.perSecond),
      count(r.ingest.ceiling.perSecond),
      ratio(r.ingest.ratio),
      verdict(r.ingest.ratio >= 0.5, 'ratio >= 0.5'),
    ],
    [
      'ingest: latency p50 / p99',
      latencies(r.ingest.pipeline),
      latencies(r.ingest.ceiling),
      '',
      '',
    ],
    [
      `ingest in batches of ${r.batchSamples}: metric values/s accepted, ${r.batchPosters} posters`,
      count(r.batches.pipeline.samplesPerSecond * r.metricsPerBody),
      count(r.batches.ceiling.samplesPerSecond * r.metricsPerBody),
      ratio(r.batches.pipeline.samplesPerSecond / r.batches.ceiling.samplesPerSecond),
      verdict(r.batches.pipeline.samplesPerSecond * r.metricsPerBody >= 300_000, '>= 300,000'),
    ],
    [
      'ingest in batches: latency p50 / p99 per batch',
      latencies(r.batches.pipeline),
      latencies(r.batches.ceiling),
      '',
      '',
    ],
    [
      `query ?topics= (${r.topics.length}): req/s, ${r.concurrency} clients`,
      count(r.query.pipeline.perSecond),
      count(r.query.ceiling.perSecond),
      ratio(r.query.ratio),
      verdict(r.query.ratio >= 0.8, 'ratio >= 0.8'),
    ],
    ['query: latency p50 / p99', latencies(r.query.pipeline), latencies(r.query.ceiling), '', ''],
  ];
  for (const d of r.delivery) {
    const complete = d.received === d.expected && d.streamErrors === 0;
    rows.push([
      `gRPC delivery p50 / p99, ${count(d.subscribers)} subscriber${d.subscribers === 1 ? '' : 's'}`,
      `${ms(d.p50Ms)} / ${ms(d.p99Ms)} ms`,
      '',
      '',
      [
        d.subscribers === 1000 ? verdict(d.p99Ms < 25, 'p99 < 25 ms') : '',
        complete ? '' : `${count(d.received)}/${count(d.expected)} delivered`,
      ]
        .filter(Boolean)
        .join(', '),
    ]);
  }
  for (const h of r.history) {
    rows.push([
      `history ${h.name} (${count(h.points)} points): p50 / p99 to the last byte`,
      `${ms(h.p50Ms)} / ${ms(h.p99Ms)} ms`,
      '',
      '',
      `p50 ≤ ${h.targetMs} ms`,
    ]);
  }
  return renderTable(['figure (medians)', 'loadstar', 'bare Koa', 'ratio', 'target'], rows);
}

/** One line per process: CPU seconds, share of one core over the span, CPU per request. */
function cpuLines(side: SideFigures, unit: string): string[] {
  const wallSeconds = side.wallMs / 1000;
  const per = unit === 'sample' ? side.samples : side.ok;
  const total = [...side.cpuSeconds.values()].reduce((a, b) => a + b, 0);
  return [...side.cpuSeconds]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([name, seconds]) =>
        `      ${name.padEnd(13)} ${seconds.toFixed(1).padStart(5)} s CPU  ${percent((seconds / wallSeconds) * 100).padStart(8)} of a core  ${((seconds / per) * 1e6).toFixed(0).padStart(5)} µs/${unit}`,
    )
    .concat(
      `      ${'all'.padEnd(13)} ${total.toFixed(1).padStart(5)} s CPU  ${percent((total / wallSeconds) * 100).padStart(8)} of a core  ${((total / per) * 1e6).toFixed(0).padStart(5)} µs/${unit}`,
    );
}

export function renderNotes(r: BenchResults): string {
  const lines: string[] = [];
  const span = (s: SideFigures, unit: string) =>
    `${count(unit === 'sample' ? s.samples : s.ok)} ${unit}s in ${(s.wallMs / 1000).toFixed(1)} s` +
    (s.settleMs > 0
      ? ` (of which ${(s.settleMs / 1000).toFixed(1)} s storage consumer catch-up)`
      : '') +
    (s.failed > 0 ? `, ${count(s.failed)} failed (first: ${s.firstFailure})` : '');
  lines.push(
    `Where the time goes (CPU from /proc/<pid>/stat over the measured rounds; ${r.cores} cores = ${r.cores * 100} % available):`,
    `  ingest, loadstar: ${span(r.ingest.pipeline, 'sample')}`,
    ...cpuLines(r.ingest.pipeline, 'sample'),
    `  ingest, bare Koa: ${span(r.ingest.ceiling, 'request')}`,
    ...cpuLines(r.ingest.ceiling, 'request'),
    `  ingest in batches, loadstar: ${span(r.batches.pipeline, 'sample')}`,
    ...cpuLines(r.batches.pipeline, 'sample'),
    `  query, loadstar: ${span(r.query.pipeline, 'request')}`,
    ...cpuLines(r.query.pipeline, 'request'),
    `  query, bare Koa: ${span(r.query.ceiling, 'request')}`,
    ...cpuLines(r.query.ceiling, 'request'),
  );
  for (const d of r.delivery) {
    const seconds = d.windowMs / 1000;
    const shares = [...d.cpuSeconds]
      .sort((a, b) => b[1] - a[1])
      .map(([name, cpu]) => `${name} ${percent((cpu / seconds) * 100)}`)
      .join(', ');
    lines.push(
      `  gRPC, ${count(d.subscribers)} subscribers: ${count(d.received)} deliveries of ${count(d.expected)} expected; whole span p50 / p99 / max ${ms(d.latency.p50)} / ${ms(d.latency.p99)} / ${ms(d.latency.max)} ms; CPU ${shares}` +
        (d.streamErrors > 0 || d.postFailures > 0
          ? `; ${d.streamErrors} stream errors, ${d.postFailures} failed posts (${d.firstError})`
          : ''),
    );
  }
  lines.push(
    '',
    `Setup: ${r.metricsPerBody} metrics per sample; query and subscriptions name ${r.topics.join(', ')}; ` +
      `gRPC samples posted at ${r.grpcRate}/s, subscribers ${r.perConnection} per connection, in their own process; ` +
      `gRPC figures are the median of ${r.grpcWindows} window(s) of ${(r.grpcWindowMs / 1000).toFixed(0)} s.`,
  );
  if (r.quick) lines.push('--quick run: too short to quote; run without --quick for figures.');
  return lines.join('\n');
}

/** Agent RSS target: what a host agent may keep. */
const AGENT_RSS_BYTES = 45 * 1024 * 1024;
const AGENT_CPU_AT_1S = 1;

function megabytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : 'n/a';
}

function usage(u: Usage): string {
  return `${percent(u.cpuPercent)} / ${megabytes(u.rssMedianBytes)}`;
}

/** What each service's resident set at idle should stay under. */
const SERVICE_IDLE_RSS_BYTES = 70 * 1024 * 1024;

/** Each service's median RSS at idle beside its ceiling. */
export function renderIdle(figures: IdleFigures[]): string {
  return renderTable(
    [
      'services at idle (built, connected, ready, nothing posted)',
      'RSS after start-up',
      'RSS idle (30 s on)',
      'of it not shared',
      'target',
    ],
    figures.map((f) => [
      f.service,
      megabytes(f.startRssMedianBytes),
      megabytes(f.rssMedianBytes),
      megabytes(f.anonymousMedianBytes),
      verdict(f.rssMedianBytes <= SERVICE_IDLE_RSS_BYTES, 'idle <= 70 MB'),
    ]),
  );
}

/** The agent beside node_exporter: CPU (children included) and median RSS, and the programs it starts. */
export function renderFootprint(f: FootprintFigures): string {
  const rows: string[][] = [];
  for (const a of f.agents) {
    const beside = a.intervalSeconds === 5 && f.exporter;
    const targets = [verdict(a.rssMedianBytes <= AGENT_RSS_BYTES, 'RSS <= 45 MB')];
    if (beside)
      targets.unshift(verdict(a.cpuPercent <= f.exporter!.cpuPercent, 'CPU <= node_exporter'));
    if (a.intervalSeconds === 1)
      targets.unshift(verdict(a.cpuPercent <= AGENT_CPU_AT_1S, 'CPU <= 1 %'));
    rows.push([
      `INTERVAL=${a.intervalSeconds}${beside ? ' (node_exporter scraped every 5 s)' : ''}: CPU / median RSS`,
      usage(a),
      beside ? usage(f.exporter!) : '',
      targets.join(', '),
    ]);
  }
  if (f.programs) {
    const perCollection = f.programs.programs / Math.max(1, f.programs.collections);
    rows.push([
      'programs started per collection (strace -f, INTERVAL=1)',
      `${perCollection.toFixed(perCollection === 0 ? 0 : 2)} (${count(f.programs.programs)} in ${count(f.programs.collections)})`,
      '',
      verdict(f.programs.programs === 0 && f.programs.collections > 0, '0'),
    ]);
  }
  const lines = [
    renderTable(
      ['agent footprint (CPU of one core, children included)', 'agent', 'node_exporter', 'target'],
      rows,
    ),
    '',
  ];
  for (const a of f.agents) {
    lines.push(
      `  agent INTERVAL=${a.intervalSeconds}: ${(a.windowMs / 1000).toFixed(0)} s window, RSS max ${megabytes(a.rssMaxBytes)}, ${count(a.samplesStored)} samples stored for its host`,
    );
  }
  if (f.exporter)
    lines.push(
      `  node_exporter: RSS max ${megabytes(f.exporter.rssMaxBytes)}, ${count(f.exporter.scrapes)} scrapes answered in the window`,
    );
  if (f.programs) {
    const names = Object.entries(f.programs.names)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    lines.push(
      `  programs: ${count(f.programs.programs)} execve in ${(f.programs.windowMs / 1000).toFixed(0)} s under strace${names ? ` (${names})` : ''}`,
    );
  }
  for (const note of f.notes) lines.push(`  ${note}`);
  lines.push(
    "  The agent is the one-file build (npm run build:agent) run as its systemd unit runs it; node_exporter is Debian's with its default collectors.",
  );
  return lines.join('\n');
}
