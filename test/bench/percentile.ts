// Percentiles by nearest rank, and the median that every quoted figure uses:
// on a shared machine one slow round must not move the result.

/** The value below which `p` percent of the ascending `sorted` fall (nearest rank); NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Summarizes latencies; sorts `latencies` in place. */
export function summarize(latencies: Float64Array): LatencySummary {
  latencies.sort();
  return {
    count: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length > 0 ? latencies[latencies.length - 1]! : Number.NaN,
  };
}
