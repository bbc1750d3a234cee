// Resident memory of each process over the run, and the verdict on it: after
// the warm-up, the median of the last third may exceed the median of the first
// third by at most 10 %. A steady process passes; one that leaks does not.
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
  /** Median of the first and last thirds of the judged points. */
  firstBytes: number;
  lastBytes: number;
  /** last / first - 1. */
  growth: number;
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

/** The verdict on a series of (time, bytes) after `warmupMs`; too few points judge nothing (ok false). */
export function judgeTrend(
  points: readonly { atMs: number; bytes: number }[],
  warmupMs: number,
): Trend {
  const judged = points.filter((p) => p.atMs >= warmupMs && Number.isFinite(p.bytes));
  const third = Math.floor(judged.length / 3);
  const first = median(judged.slice(0, third).map((p) => p.bytes));
  const last = median(judged.slice(judged.length - third).map((p) => p.bytes));
  const growth = last / first - 1;
  return {
    firstBytes: first,
    lastBytes: last,
    growth,
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
