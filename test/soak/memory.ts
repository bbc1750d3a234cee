// Resident memory of each process over the run, and the verdict on it. A
// garbage-collected process's RSS saws up and down with its collections, and
// rises with the requests it holds while the machine stalls; a leak raises
// what it holds between those. So each minute's lowest reading (its floor) is
// what is judged: after the warm-up, the median floor of the last third may
// exceed that of the first third by at most 10 %. A steady process passes
// however much it saws; one that leaks does not.
import { median } from '../bench/percentile.ts';
import { cpuSeconds, rssBytes } from '../bench/proc-stat.ts';

export interface RssPoint {
  /** Milliseconds since the run started. */
  atMs: number;
  bytes: number;
  /** CPU of the process since the previous point, in % of one core. */
  cpuPercent: number;
}

export interface Trend {
  /** Median of the per-minute floors of the first and last thirds of the judged span. */
  firstBytes: number;
  lastBytes: number;
  /** last / first - 1: what is judged. */
  growth: number;
  /** Median of every reading of the first and last thirds, floors or not (shown, not judged). */
  firstMedianBytes: number;
  lastMedianBytes: number;
  maxBytes: number;
  judgedPoints: number;
  ok: boolean;
}

export const GROWTH_LIMIT = 0.1;

export class RssSeries {
  readonly points: RssPoint[] = [];
  private lastCpu: number;
  private lastAt: number;

  constructor(
    readonly name: string,
    private readonly pid: number,
    startedAt: number,
  ) {
    this.lastCpu = cpuSeconds(pid);
    this.lastAt = startedAt;
  }

  sample(now: number, startAt: number): RssPoint {
    const cpu = cpuSeconds(this.pid);
    const point = {
      atMs: now - startAt,
      bytes: rssBytes(this.pid),
      cpuPercent: ((cpu - this.lastCpu) / ((now - this.lastAt) / 1000)) * 100,
    };
    this.lastCpu = cpu;
    this.lastAt = now;
    this.points.push(point);
    return point;
  }
}

/** How long one floor spans: a minute, or less in a run too short to hold six. */
export function floorSpanMs(judgedSpanMs: number): number {
  return Math.min(60_000, judgedSpanMs / 6);
}

/** The verdict on a series of (time, bytes) after `warmupMs`; too few points judge nothing (ok false). */
export function judgeTrend(
  points: readonly { atMs: number; bytes: number }[],
  warmupMs: number,
): Trend {
  const judged = points.filter((p) => p.atMs >= warmupMs && Number.isFinite(p.bytes));
  const span = Math.max(1, floorSpanMs((judged.at(-1)?.atMs ?? warmupMs) - warmupMs));
  // The readings of each span, in time order; a span's lowest is what the process
  // holds between its collections and bursts.
  const bySpan: number[][] = [];
  for (const p of judged) {
    const index = Math.floor((p.atMs - warmupMs) / span);
    const readings = bySpan[index] ?? [];
    readings.push(p.bytes);
    bySpan[index] = readings;
  }
  const spans = bySpan.filter(Boolean);
  const third = Math.floor(spans.length / 3);
  const firstSpans = spans.slice(0, third);
  const lastSpans = spans.slice(spans.length - third);
  const medianFloor = (readings: number[][]) => median(readings.map((r) => Math.min(...r)));
  const first = medianFloor(firstSpans);
  const last = medianFloor(lastSpans);
  const growth = last / first - 1;
  return {
    firstBytes: first,
    lastBytes: last,
    growth,
    firstMedianBytes: median(firstSpans.flat()),
    lastMedianBytes: median(lastSpans.flat()),
    maxBytes: Math.max(...judged.map((p) => p.bytes)),
    judgedPoints: judged.length,
    ok: third >= 1 && growth <= GROWTH_LIMIT,
  };
}

/** Average CPU over the judged span, in % of one core. */
export function judgedCpu(points: readonly RssPoint[], warmupMs: number): number {
  const judged = points.filter((p) => p.atMs > warmupMs && Number.isFinite(p.cpuPercent));
  return judged.reduce((sum, p) => sum + p.cpuPercent, 0) / judged.length;
}
