// Runs the same load against loadstar and against the bare-Koa ceiling in
// alternating rounds (so drift on a shared machine hits both) and keeps the
// medians of the rounds, plus the CPU each process spent during them.
import type { LoadGenerator, LoadResult, LoadSpec } from './load.ts';
import type { BenchPlan } from './options.ts';
import { median } from './percentile.ts';
import type { CpuMeter } from './proc-stat.ts';

export interface Side {
  name: string;
  /** The load of one round, less its bounds; `runId` keeps its sample ids apart from every other round's. */
  spec(runId: string): Omit<LoadSpec, 'durationMs' | 'maxRequests'>;
  /** The processes whose CPU this side is charged. */
  meter: CpuMeter;
  /** Work the side still owes after its answers (the storage consumer's backlog); returns ms waited. */
  settle?(): Promise<number>;
}

export interface SideFigures {
  /** Medians over the rounds: answers per second, and samples accepted per second. */
  perSecond: number;
  samplesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  /** Samples accepted over the rounds (a batch counts its samples). */
  samples: number;
  failed: number;
  firstFailure?: string;
  /** Load time plus settle time, summed over the rounds: the span the CPU figures cover. */
  wallMs: number;
  settleMs: number;
  cpuSeconds: Map<string, number>;
}

export interface Comparison {
  pipeline: SideFigures;
  ceiling: SideFigures;
  /** Median pipeline throughput over median ceiling throughput. */
  ratio: number;
}

export async function compareWithCeiling(
  generator: LoadGenerator,
  pipeline: Side,
  ceiling: Side,
  plan: BenchPlan,
  label: string,
): Promise<Comparison> {
  const runs = new Map<Side, { results: LoadResult[]; wallMs: number; settleMs: number }>([
    [pipeline, { results: [], wallMs: 0, settleMs: 0 }],
    [ceiling, { results: [], wallMs: 0, settleMs: 0 }],
  ]);
  const round = async (side: Side, runId: string, durationMs: number) => {
    const result = await generator.run({
      ...side.spec(runId),
      durationMs,
      maxRequests: plan.maxRequestsPerRound,
    });
    if (result.ok === 0) {
      throw new Error(
        `${label}: ${side.name} answered no request with 200 (${result.firstFailure})`,
      );
    }
    const settleMs = (await side.settle?.()) ?? 0;
    return { result, settleMs };
  };

  for (const side of [ceiling, pipeline]) await round(side, `${label}-warm`, plan.warmupMs);
  for (let r = 0; r < plan.rounds; r++) {
    const order = r % 2 === 0 ? [ceiling, pipeline] : [pipeline, ceiling];
    for (const side of order) {
      side.meter.begin();
      const { result, settleMs } = await round(side, `${label}-${r}-${Date.now()}`, plan.roundMs);
      side.meter.end();
      const run = runs.get(side)!;
      run.results.push(result);
      run.wallMs += result.elapsedMs + settleMs;
      run.settleMs += settleMs;
      process.stderr.write(
        `  ${label} round ${r + 1}/${plan.rounds} ${side.name}: ${Math.round(result.perSecond)}/s, ` +
          `p99 ${result.latency.p99.toFixed(1)} ms${result.failed ? `, ${result.failed} failed` : ''}` +
          `${settleMs ? `, store caught up in ${settleMs} ms` : ''}\n`,
      );
    }
  }

  const figures = (side: Side): SideFigures => {
    const { results, wallMs, settleMs } = runs.get(side)!;
    return {
      perSecond: median(results.map((r) => r.perSecond)),
      samplesPerSecond: median(results.map((r) => r.samples / (r.elapsedMs / 1000))),
      p50Ms: median(results.map((r) => r.latency.p50)),
      p99Ms: median(results.map((r) => r.latency.p99)),
      ok: results.reduce((sum, r) => sum + r.ok, 0),
      samples: results.reduce((sum, r) => sum + r.samples, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      firstFailure: results.find((r) => r.firstFailure)?.firstFailure,
      wallMs,
      settleMs,
      cpuSeconds: side.meter.seconds(),
    };
  };
  const p = figures(pipeline);
  const c = figures(ceiling);
  return { pipeline: p, ceiling: c, ratio: p.perSecond / c.perSecond };
}
