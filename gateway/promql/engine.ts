// Evaluates a parsed PromQL expression at one instant or at every step of a
// range, with Prometheus' semantics (2.42, the version Debian ships): the
// 5-minute lookback (staleness), extrapolated rate and increase, one-to-one
// vector matching, and the same float arithmetic, so that answers agree with a
// Prometheus holding the same samples value for value. Where a result would be
// ambiguous (two series with one label set) it fails instead of guessing.
//
// Two phases: every selector's points are fetched first (the only I/O), then
// the tree is evaluated step by step in memory.

import { LoadstarError } from '../../proto/errors.ts';
import type { AggregateNode, BinaryNode, CallNode, Expr, RangeNode, SelectorNode } from './ast.ts';
import { COMPARISON_OPS, SET_OPS, typeOf } from './ast.ts';
import {
  compareLabels,
  dropName,
  formatLabels,
  keepOnly,
  type Label,
  labelsKey,
  without,
} from './labels.ts';
import type { Points, SeriesCatalogue, SeriesRef, View } from './series.ts';

/** How far back an instant selector looks for a series' latest sample: older, the series is stale (absent). */
export const LOOKBACK_MS = 5 * 60_000;
/** Most series one query may read. */
export const MAX_SERIES = 10_000;
/** Most points one query may load. */
export const MAX_POINTS = 20_000_000;

/** A query that cannot be answered from the data (Prometheus' "execution" errors; code `query_failed`). */
export class ExecutionError extends LoadstarError {
  constructor(message: string) {
    super('query_failed', message);
    this.name = 'ExecutionError';
  }
}

export interface Sample {
  labels: Label[];
  key: string;
  value: number;
}

export interface MatrixSeries {
  labels: Label[];
  times: number[];
  values: number[];
}

/** An evaluated node: one value per step (scalar, vector), or windows (matrix, only at the top of an instant query). */
type Evaluated =
  | { type: 'scalar'; values: number[] }
  | { type: 'vector'; steps: Sample[][] }
  | { type: 'matrix'; series: MatrixSeries[] }
  | { type: 'string'; value: string };

export type QueryResult =
  | { resultType: 'scalar'; time: number; value: number }
  | { resultType: 'string'; time: number; value: string }
  | { resultType: 'vector'; time: number; samples: Sample[] }
  | { resultType: 'matrix'; series: MatrixSeries[] };

export interface Evaluation {
  result: QueryResult;
  /** Said alongside the answer (Prometheus' `warnings`). */
  warnings: string[];
}

export interface QueryTiming {
  /** Epoch ms of the first step (or the instant). */
  start: number;
  end: number;
  stepMs: number;
  /** An instant query answers a vector; a range query a matrix. */
  instant: boolean;
}

interface Fetched {
  refs: SeriesRef[];
  points: Points[];
}

interface Context {
  steps: number[];
  view: View;
  data: Map<SelectorNode, Fetched>;
  warnings: Set<string>;
}

/**
 * Evaluates `expr`. The minute view is used when `view` says so (the caller
 * decides from the step and the raw retention).
 */
export async function evaluate(
  expr: Expr,
  timing: QueryTiming,
  catalogue: SeriesCatalogue,
  view: View,
): Promise<Evaluation> {
  const type = typeOf(expr);
  if (!timing.instant && type !== 'scalar' && type !== 'vector')
    throw new Error(`a range query of a ${type}: the caller checks the type first`);
  const steps: number[] = [];
  for (let t = timing.start; t <= timing.end; t += timing.stepMs) steps.push(t);
  const context: Context = { steps, view, data: new Map(), warnings: new Set() };
  await fetch(expr, context, catalogue);
  const value = evaluateNode(expr, context);
  return { result: present(value, timing, steps), warnings: [...context.warnings] };
}

// ---- fetching -------------------------------------------------------------------

function selectorsOf(expr: Expr): { selector: SelectorNode; rangeMs: number }[] {
  switch (expr.kind) {
    case 'selector':
      return [{ selector: expr, rangeMs: 0 }];
    case 'range':
      return [{ selector: expr.selector, rangeMs: expr.rangeMs }];
    case 'call':
      return expr.args.flatMap(selectorsOf);
    case 'aggregate':
      return [...(expr.param ? selectorsOf(expr.param) : []), ...selectorsOf(expr.expr)];
    case 'binary':
      return [...selectorsOf(expr.lhs), ...selectorsOf(expr.rhs)];
    case 'unary':
    case 'paren':
      return selectorsOf(expr.expr);
    default:
      return [];
  }
}

/** The earliest time a query reads: how far back its data must reach. */
export function earliestRead(expr: Expr, start: number): number {
  let earliest = start;
  for (const { selector, rangeMs } of selectorsOf(expr))
    earliest = Math.min(earliest, start - selector.offsetMs - (rangeMs || LOOKBACK_MS));
  return earliest;
}

async function fetch(expr: Expr, context: Context, catalogue: SeriesCatalogue): Promise<void> {
  const first = context.steps[0]!;
  const last = context.steps.at(-1)!;
  let series = 0;
  const jobs = selectorsOf(expr).map(async ({ selector, rangeMs }) => {
    const from = first - selector.offsetMs - (rangeMs || LOOKBACK_MS);
    const to = last - selector.offsetMs;
    const refs = await catalogue.select(selector.matchers, from);
    series += refs.length;
    if (series > MAX_SERIES)
      throw new ExecutionError(
        `the query selects more than ${MAX_SERIES} series; narrow its selectors`,
      );
    const points = await Promise.all(
      refs.map((ref) => catalogue.points(ref, from, to, context.view)),
    );
    context.data.set(selector, { refs, points });
  });
  await Promise.all(jobs);
  let total = 0;
  for (const { points } of context.data.values()) for (const p of points) total += p.times.length;
  if (total > MAX_POINTS)
    throw new ExecutionError(
      `the query reads ${total} points, more than ${MAX_POINTS}; shorten its range or widen its step`,
    );
}

// ---- evaluation -----------------------------------------------------------------

function evaluateNode(expr: Expr, context: Context): Evaluated {
  switch (expr.kind) {
    case 'number':
      return { type: 'scalar', values: context.steps.map(() => expr.value) };
    case 'string':
      return { type: 'string', value: expr.value };
    case 'paren':
      return evaluateNode(expr.expr, context);
    case 'selector':
      return { type: 'vector', steps: selectInstants(expr, context) };
    case 'range':
      return { type: 'matrix', series: rangeAtInstant(expr, context) };
    case 'unary':
      return evaluateUnary(expr.op, evaluateNode(expr.expr, context));
    case 'call':
      return evaluateCall(expr, context);
    case 'aggregate':
      return evaluateAggregate(expr, context);
    case 'binary':
      return evaluateBinary(expr, context);
  }
}

/** The index of the last time <= t, or -1. */
function lastAtOrBefore(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The index of the first time >= t (or > t when `open`). */
function firstFrom(times: number[], t: number, open: boolean): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (open ? times[mid]! <= t : times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function selectInstants(selector: SelectorNode, context: Context): Sample[][] {
  const { refs, points } = context.data.get(selector)!;
  return context.steps.map((t) => {
    const at = t - selector.offsetMs;
    const out: Sample[] = [];
    refs.forEach((ref, i) => {
      const p = points[i]!;
      const index = lastAtOrBefore(p.times, at);
      // Older than the lookback: the series is stale at this instant, so absent.
      if (index < 0 || p.times[index]! < at - LOOKBACK_MS) return;
      out.push({ labels: ref.labels, key: ref.key, value: p.values[index]! });
    });
    return out;
  });
}

/** A window of one series: raw points in [t - range, t]; in the minute view, minutes ending in (t - range, t]. */
interface Window {
  times: number[];
  values: number[];
  minutes?: Points['minutes'];
}

function windowOf(p: Points, t: number, rangeMs: number, view: View): Window {
  const from = firstFrom(p.times, t - rangeMs, view === 'minutes');
  const to = lastAtOrBefore(p.times, t) + 1;
  return {
    times: p.times.slice(from, to),
    values: p.values.slice(from, to),
    minutes: p.minutes?.slice(from, to),
  };
}

/** A range selector at the top of an instant query: its raw windows. */
function rangeAtInstant(node: RangeNode, context: Context): MatrixSeries[] {
  const { refs, points } = context.data.get(node.selector)!;
  const t = context.steps[0]! - node.selector.offsetMs;
  const out: MatrixSeries[] = [];
  refs.forEach((ref, i) => {
    const w = windowOf(points[i]!, t, node.rangeMs, context.view);
    if (w.times.length > 0) out.push({ labels: ref.labels, times: w.times, values: w.values });
  });
  return out;
}

function scalarOf(value: Evaluated): number[] {
  if (value.type !== 'scalar') throw new Error(`expected a scalar, got ${value.type}`);
  return value.values;
}

function vectorOf(value: Evaluated): Sample[][] {
  if (value.type !== 'vector') throw new Error(`expected a vector, got ${value.type}`);
  return value.steps;
}

function sample(labels: Label[], value: number): Sample {
  return { labels, key: labelsKey(labels), value };
}

/** A step's vector may not hold one label set twice: the answer would be ambiguous. */
function checkDistinct(steps: Sample[][]): Sample[][] {
  for (const vector of steps) {
    if (vector.length < 2) continue;
    const seen = new Set<string>();
    for (const s of vector) {
      if (seen.has(s.key))
        throw new ExecutionError('vector cannot contain metrics with the same labelset');
      seen.add(s.key);
    }
  }
  return steps;
}

function evaluateUnary(op: '-' | '+', value: Evaluated): Evaluated {
  if (op === '+') return value;
  if (value.type === 'scalar') return { type: 'scalar', values: value.values.map((v) => -v) };
  const steps = vectorOf(value).map((vector) =>
    vector.map((s) => sample(dropName(s.labels), -s.value)),
  );
  return { type: 'vector', steps: checkDistinct(steps) };
}

// ---- functions ------------------------------------------------------------------

/** Adds with Neumaier's compensation, as Prometheus' sum_over_time and avg_over_time do. */
function kahanAdd(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

function kahanSum(values: Iterable<number>): number {
  let sum = 0;
  let c = 0;
  for (const v of values) [sum, c] = kahanAdd(v, sum, c);
  return Number.isFinite(sum) ? sum + c : sum;
}

/** The mean, computed incrementally as Prometheus 2.42 does (no overflow on large values). */
function incrementalMean(values: number[]): number {
  let mean = 0;
  let count = 0;
  let c = 0;
  for (const v of values) {
    count++;
    if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
      if (!Number.isFinite(v) && !Number.isNaN(v) && mean > 0 === v > 0) continue;
      if (Number.isFinite(v)) continue;
    }
    [mean, c] = kahanAdd(v / count - mean / count, mean, c);
  }
  return !Number.isFinite(mean) && !Number.isNaN(mean) ? mean : mean + c;
}

function maxOf(values: number[]): number {
  let max = values[0]!;
  for (const v of values) if (v > max || Number.isNaN(max)) max = v;
  return max;
}

function minOf(values: number[]): number {
  let min = values[0]!;
  for (const v of values) if (v < min || Number.isNaN(min)) min = v;
  return min;
}

/**
 * rate and increase: the change over the window (counter resets added back),
 * extrapolated towards the window's ends when the samples come close to them,
 * but not past where the counter would have been zero.
 */
function extrapolatedRate(w: Window, t: number, rangeMs: number, isRate: boolean): number | null {
  const n = w.times.length;
  if (n < 2) return null;
  const firstT = w.times[0]!;
  const lastT = w.times[n - 1]!;
  const firstV = w.values[0]!;
  let change = w.values[n - 1]! - firstV;
  let previous = 0;
  for (const v of w.values) {
    if (v < previous) change += previous;
    previous = v;
  }
  const sampled = (lastT - firstT) / 1000;
  // Equal times only (a duplicate point): there is no interval to take a rate over.
  if (sampled === 0) return null;
  let toStart = (firstT - (t - rangeMs)) / 1000;
  const toEnd = (t - lastT) / 1000;
  const average = sampled / (n - 1);
  if (change > 0 && firstV >= 0) {
    const toZero = sampled * (firstV / change);
    if (toZero < toStart) toStart = toZero;
  }
  const threshold = average * 1.1;
  let interval = sampled;
  interval += toStart < threshold ? toStart : average / 2;
  interval += toEnd < threshold ? toEnd : average / 2;
  const extrapolated = change * (interval / sampled);
  return isRate ? extrapolated / (rangeMs / 1000) : extrapolated;
}

/** irate: the last two samples' change per second (a reset: the last value itself). */
function instantRate(w: Window): number | null {
  const n = w.times.length;
  if (n < 2) return null;
  const last = w.values[n - 1]!;
  const previous = w.values[n - 2]!;
  const dt = w.times[n - 1]! - w.times[n - 2]!;
  if (dt === 0) return null;
  return (last < previous ? last : last - previous) / (dt / 1000);
}

/** Functions of a window; in the minute view the exact ones use the minutes' aggregates. */
function overTime(func: string, w: Window, t: number, rangeMs: number): number | null {
  if (w.times.length === 0) return null;
  const m = w.minutes;
  switch (func) {
    case 'avg_over_time':
      return m
        ? kahanSum(m.map((x) => x.sum)) / m.reduce((n, x) => n + x.count, 0)
        : incrementalMean(w.values);
    case 'sum_over_time':
      return kahanSum(m ? m.map((x) => x.sum) : w.values);
    case 'count_over_time':
      return m ? m.reduce((n, x) => n + x.count, 0) : w.values.length;
    case 'min_over_time':
      return m ? minOf(m.map((x) => x.min)) : minOf(w.values);
    case 'max_over_time':
      return m ? maxOf(m.map((x) => x.max)) : maxOf(w.values);
    case 'last_over_time':
      return w.values.at(-1)!;
    case 'rate':
      return extrapolatedRate(w, t, rangeMs, true);
    case 'increase':
      return extrapolatedRate(w, t, rangeMs, false);
    case 'irate':
      return instantRate(w);
    default:
      throw new Error(`no window function ${func}`);
  }
}

/** Functions that the minute view answers only approximately (from minute averages). */
const APPROXIMATE_ON_MINUTES = new Set(['rate', 'irate', 'increase', 'last_over_time']);

function evaluateCall(node: CallNode, context: Context): Evaluated {
  const { func } = node;
  if (func === 'time') return { type: 'scalar', values: context.steps.map((t) => t / 1000) };
  if (func === 'vector') {
    return {
      type: 'vector',
      steps: scalarOf(evaluateNode(node.args[0]!, context)).map((v) => [sample([], v)]),
    };
  }
  if (func === 'scalar') {
    const steps = vectorOf(evaluateNode(node.args[0]!, context));
    return {
      type: 'scalar',
      values: steps.map((v) => (v.length === 1 ? v[0]!.value : Number.NaN)),
    };
  }
  if (func === 'abs') {
    const steps = vectorOf(evaluateNode(node.args[0]!, context)).map((vector) =>
      vector.map((s) => sample(dropName(s.labels), Math.abs(s.value))),
    );
    return { type: 'vector', steps: checkDistinct(steps) };
  }
  const range = node.args[0] as RangeNode;
  const { refs, points } = context.data.get(range.selector)!;
  if (context.view === 'minutes' && APPROXIMATE_ON_MINUTES.has(func)) {
    context.warnings.add(
      `${func} was computed from one-minute averages (the query reads one-minute aggregates): an approximation`,
    );
  }
  const labels = refs.map((ref) => dropName(ref.labels));
  const keys = labels.map(labelsKey);
  const steps = context.steps.map((step) => {
    const t = step - range.selector.offsetMs;
    const out: Sample[] = [];
    refs.forEach((_, i) => {
      const w = windowOf(points[i]!, t, range.rangeMs, context.view);
      const value = overTime(func, w, t, range.rangeMs);
      if (value !== null) out.push({ labels: labels[i]!, key: keys[i]!, value });
    });
    return out;
  });
  return { type: 'vector', steps: checkDistinct(steps) };
}

// ---- aggregations ---------------------------------------------------------------

interface Group {
  labels: Label[];
  key: string;
  value: number;
  mean: number;
  count: number;
  members: Sample[];
}

function evaluateAggregate(node: AggregateNode, context: Context): Evaluated {
  const input = vectorOf(evaluateNode(node.expr, context));
  const params = node.param ? scalarOf(evaluateNode(node.param, context)) : null;
  const grouping = node.grouping;
  const groupLabels = (labels: Label[]): Label[] =>
    node.without ? without(dropName(labels), grouping) : keepOnly(labels, grouping);
  const steps = input.map((vector, stepIndex) => {
    let k = 0;
    if (params) {
      const f = params[stepIndex]!;
      if (!(Math.abs(f) < 2 ** 63)) throw new ExecutionError(`Scalar value ${f} overflows int64`);
      k = Math.trunc(f);
      if (k < 1) return [];
    }
    const groups = new Map<string, Group>();
    for (const s of vector) {
      const labels = groupLabels(s.labels);
      const key = labelsKey(labels);
      const group = groups.get(key);
      if (!group) {
        groups.set(key, { labels, key, value: s.value, mean: s.value, count: 1, members: [s] });
        continue;
      }
      group.count++;
      group.members.push(s);
      switch (node.op) {
        case 'sum':
          group.value += s.value;
          break;
        case 'avg':
          if (!Number.isFinite(group.mean) && !Number.isNaN(group.mean)) {
            if (
              !Number.isFinite(s.value) &&
              !Number.isNaN(s.value) &&
              group.mean > 0 === s.value > 0
            )
              break;
            if (Number.isFinite(s.value)) break;
          }
          group.mean += s.value / group.count - group.mean / group.count;
          break;
        case 'max':
          if (group.value < s.value || Number.isNaN(group.value)) group.value = s.value;
          break;
        case 'min':
          if (group.value > s.value || Number.isNaN(group.value)) group.value = s.value;
          break;
        default:
          break;
      }
    }
    const out: Sample[] = [];
    for (const group of groups.values()) {
      switch (node.op) {
        case 'avg':
          out.push(sample(group.labels, group.mean));
          break;
        case 'count':
          out.push(sample(group.labels, group.count));
          break;
        case 'topk':
        case 'bottomk': {
          // NaN loses to any number either way, as in Prometheus.
          const order = node.op === 'topk' ? -1 : 1;
          const ranked = [...group.members].sort((a, b) => {
            if (Number.isNaN(a.value)) return Number.isNaN(b.value) ? 0 : 1;
            if (Number.isNaN(b.value)) return -1;
            return order * (a.value - b.value);
          });
          out.push(...ranked.slice(0, k));
          break;
        }
        default:
          out.push(sample(group.labels, group.value));
      }
    }
    return out;
  });
  return { type: 'vector', steps };
}

// ---- binary operators -------------------------------------------------------------

/** Go's math.Pow where it differs from JavaScript's: 1 ** NaN and (-1) ** ±Inf are 1. */
function power(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return x ** y;
}

/** The result of `lhs op rhs` and, for comparisons, whether it holds (a comparison's value is lhs). */
function compute(op: string, lhs: number, rhs: number): [number, boolean] {
  switch (op) {
    case '+':
      return [lhs + rhs, true];
    case '-':
      return [lhs - rhs, true];
    case '*':
      return [lhs * rhs, true];
    case '/':
      return [lhs / rhs, true];
    case '%':
      return [lhs % rhs, true];
    case '^':
      return [power(lhs, rhs), true];
    case '==':
      return [lhs, lhs === rhs];
    case '!=':
      return [lhs, lhs !== rhs];
    case '>':
      return [lhs, lhs > rhs];
    case '<':
      return [lhs, lhs < rhs];
    case '>=':
      return [lhs, lhs >= rhs];
    case '<=':
      return [lhs, lhs <= rhs];
    default:
      throw new Error(`no operator ${op}`);
  }
}

function evaluateBinary(node: BinaryNode, context: Context): Evaluated {
  const lhs = evaluateNode(node.lhs, context);
  const rhs = evaluateNode(node.rhs, context);
  const comparison = COMPARISON_OPS.has(node.op);
  const dropsName = !comparison || node.bool;
  if (lhs.type === 'scalar' && rhs.type === 'scalar') {
    return {
      type: 'scalar',
      values: lhs.values.map((l, i) => {
        const [value, holds] = compute(node.op, l, rhs.values[i]!);
        return comparison ? (holds ? 1 : 0) : value;
      }),
    };
  }
  if (lhs.type === 'vector' && rhs.type === 'vector') {
    const steps = lhs.steps.map((left, i) =>
      SET_OPS.has(node.op)
        ? setOperation(node, left, rhs.steps[i]!)
        : matchVectors(node, left, rhs.steps[i]!, dropsName),
    );
    return { type: 'vector', steps: checkDistinct(steps) };
  }
  // A vector and a scalar, in either order: the output keeps the vector's samples.
  const scalarLeft = lhs.type === 'scalar';
  const vector = vectorOf(scalarLeft ? rhs : lhs);
  const scalar = scalarOf(scalarLeft ? lhs : rhs);
  const steps = vector.map((samples, i) => {
    const out: Sample[] = [];
    for (const s of samples) {
      const [l, r] = scalarLeft ? [scalar[i]!, s.value] : [s.value, scalar[i]!];
      let [value, holds] = compute(node.op, l, r);
      if (comparison && scalarLeft) value = s.value;
      if (node.bool) value = holds ? 1 : 0;
      else if (!holds) continue;
      out.push(dropsName ? sample(dropName(s.labels), value) : { ...s, value });
    }
    return out;
  });
  return { type: 'vector', steps: checkDistinct(steps) };
}

/** The labels two samples are matched on: `on` ones, or all but `ignoring` ones and the name. */
function signature(node: BinaryNode, labels: Label[]): string {
  const m = node.matching;
  return labelsKey(m?.on ? keepOnly(labels, m.labels) : without(dropName(labels), m?.labels ?? []));
}

function matchVectors(
  node: BinaryNode,
  left: Sample[],
  right: Sample[],
  dropsName: boolean,
): Sample[] {
  const bySignature = new Map<string, Sample>();
  for (const r of right) {
    const sig = signature(node, r.labels);
    const twin = bySignature.get(sig);
    if (twin) {
      throw new ExecutionError(
        `found duplicate series for the match group ${formatLabels(JSON.parse(sig))} on the right hand-side of the operation: [${formatLabels(r.labels)}, ${formatLabels(twin.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    bySignature.set(sig, r);
  }
  const matched = new Set<string>();
  const out: Sample[] = [];
  for (const l of left) {
    const sig = signature(node, l.labels);
    const r = bySignature.get(sig);
    if (!r) continue;
    let [value, holds] = compute(node.op, l.value, r.value);
    if (node.bool) value = holds ? 1 : 0;
    else if (!holds) continue;
    if (matched.has(sig))
      throw new ExecutionError(
        'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
      );
    matched.add(sig);
    let labels = dropsName ? dropName(l.labels) : l.labels;
    if (node.matching?.on) labels = keepOnly(labels, node.matching.labels);
    else if (node.matching) labels = without(labels, node.matching.labels);
    out.push(sample(labels, value));
  }
  return out;
}

function setOperation(node: BinaryNode, left: Sample[], right: Sample[]): Sample[] {
  const rightSigs = new Set(right.map((r) => signature(node, r.labels)));
  switch (node.op) {
    case 'and':
      return left.filter((l) => rightSigs.has(signature(node, l.labels)));
    case 'unless':
      return left.filter((l) => !rightSigs.has(signature(node, l.labels)));
    default: {
      const leftSigs = new Set(left.map((l) => signature(node, l.labels)));
      return [...left, ...right.filter((r) => !leftSigs.has(signature(node, r.labels)))];
    }
  }
}

// ---- the answer -----------------------------------------------------------------

function present(value: Evaluated, timing: QueryTiming, steps: number[]): QueryResult {
  const time = timing.start;
  if (timing.instant) {
    switch (value.type) {
      case 'scalar':
        return { resultType: 'scalar', time, value: value.values[0]! };
      case 'string':
        return { resultType: 'string', time, value: value.value };
      case 'vector':
        return { resultType: 'vector', time, samples: value.steps[0]! };
      case 'matrix':
        return { resultType: 'matrix', series: value.series };
    }
  }
  const series = new Map<string, MatrixSeries>();
  if (value.type === 'scalar') {
    return { resultType: 'matrix', series: [{ labels: [], times: steps, values: value.values }] };
  }
  vectorOf(value).forEach((vector, i) => {
    for (const s of vector) {
      let one = series.get(s.key);
      if (!one) {
        one = { labels: s.labels, times: [], values: [] };
        series.set(s.key, one);
      }
      one.times.push(steps[i]!);
      one.values.push(s.value);
    }
  });
  return {
    resultType: 'matrix',
    series: [...series.values()].sort((a, b) => compareLabels(a.labels, b.labels)),
  };
}
