// History of one metric of one host as the charts hold it: raw points, or
// one-minute averages with min and max, fetched from api/v1/history; columns for
// uPlot (times in seconds); live points appended with a null wherever a gap
// begins, so a silence is drawn as a break, never bridged.
/* global uPlot */
import { getJson } from './api.js';

/** Requests for history in flight at once: the browser keeps six connections, one is the live feed. */
const MAX_IN_FLIGHT = 4;
let inFlight = 0;
const waiting = [];

async function queued(task, signal) {
  if (inFlight >= MAX_IN_FLIGHT) await new Promise((resolve) => waiting.push(resolve));
  inFlight++;
  if (signal?.aborted) {
    // Given up while it waited (the page moved on): its turn goes to the next.
    inFlight--;
    waiting.shift()?.();
    throw signal.reason;
  }
  try {
    return await task();
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

/**
 * One metric of one host over [from, to] at `step`.
 * @returns {Promise<{ step: 'raw', xs: number[], ys: (number|null)[], intervalMs: number, gapMs: number } | { step: '1m', xs: number[], avg: (number|null)[], min: (number|null)[], max: (number|null)[], intervalMs: number }>}
 */
export function fetchSeries(host, metric, { from, to, step }, signal, gapFactor = 2) {
  const params = new URLSearchParams({
    host,
    metric,
    step,
    from: String(Math.floor(from)),
    to: String(Math.ceil(to)),
  });
  return queued(async () => {
    const body = await getJson(`api/v1/history?${params}`, { signal });
    const xs = body.points.map((p) => p[0] / 1000);
    if (body.step === 'raw') {
      return {
        step: 'raw',
        xs,
        ys: body.points.map((p) => p[1]),
        intervalMs: body.interval * 1000,
        gapMs: body.gap_after_ms,
      };
    }
    const series = {
      step: '1m',
      xs,
      avg: body.points.map((p) => p[1]),
      min: body.points.map((p) => p[3]),
      max: body.points.map((p) => p[4]),
      intervalMs: body.interval * 1000,
    };
    spanQuietMinutes(series, gapFactor * body.interval * 1000);
    return series;
  }, signal);
}

/**
 * Empty minutes between two samples of a host that reports less often than
 * once a minute are its interval, not a gap: they are drawn through
 * (undefined), and only a stretch longer than the gap stays a break (null),
 * as in raw history.
 */
export function spanQuietMinutes(series, gapMs) {
  const { avg } = series;
  let i = 0;
  while (i < avg.length) {
    if (avg[i] !== null) {
      i++;
      continue;
    }
    let end = i;
    while (end < avg.length && avg[end] === null) end++;
    const between = i > 0 && end < avg.length;
    // k empty minutes: the samples on either side are at most k + 1 minutes apart.
    if (between && (end - i + 1) * 60_000 <= gapMs) {
      for (let k = i; k < end; k++) {
        avg[k] = undefined;
        series.min[k] = undefined;
        series.max[k] = undefined;
      }
    }
    i = end;
  }
}

/** The columns a series adds to a chart: the value, or average, min and max. */
export function columnsOf(series) {
  return series.step === 'raw' ? [series.ys] : [series.avg, series.min, series.max];
}

function sameTimes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * uPlot's data for several series of one step: [times, columns of the first,
 * columns of the second…]. Series of one host share their sample times, so the
 * usual case is a copy; otherwise uPlot.join aligns them, keeping the nulls
 * that mark gaps and leaving the alignment holes undefined (drawn through).
 */
export function joinSeries(list) {
  if (list.length === 0) return [[]];
  const first = list[0].xs;
  if (list.every((s) => sameTimes(s.xs, first))) return [first, ...list.flatMap(columnsOf)];
  return uPlot.join(list.map((s) => [s.xs, ...columnsOf(s)]));
}

/**
 * Appends a live raw point (time in ms); a null first when it follows a silence
 * longer than the gap. Returns false for a point not newer than the last one.
 */
export function appendPoint(series, time, value) {
  const { xs, ys } = series;
  const last = xs.length - 1;
  const lastMs = last >= 0 ? xs[last] * 1000 : null;
  if (lastMs !== null && time <= lastMs) return false;
  // After a value, a long silence gets its null; after a null (a gap already marked), none.
  if (lastMs !== null && ys[last] !== null && time - lastMs > series.gapMs) {
    xs.push((lastMs + series.intervalMs) / 1000);
    ys.push(null);
  }
  xs.push(time / 1000);
  ys.push(value);
  return true;
}

/** Drops points older than `fromMs`, keeping the one just before it so the line enters the window. */
export function trimBefore(series, fromMs) {
  const from = fromMs / 1000;
  let cut = 0;
  while (cut + 1 < series.xs.length && series.xs[cut + 1] < from) cut++;
  if (cut === 0) return;
  for (const column of [series.xs, ...columnsOf(series)]) column.splice(0, cut);
}
