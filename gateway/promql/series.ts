// The series a Prometheus query can read: every metric of every host, under its
// Prometheus name and labels (proto/prometheus-names.ts) with `host` as a label,
// and their points. Reads only through ReadModel and gateway/history.ts, never
// Redis keys of its own, so the history layout may change under it.

import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { HOST_LABEL, promSeries } from '../../proto/prometheus-names.ts';
import { type MinutePoint, readMinutes, readRaw } from '../history.ts';
import type { ReadModel } from '../read.ts';
import { type Matcher, matches } from './ast.ts';
import {
  compareLabels,
  type Label,
  labelSet,
  labelsKey,
  labelValue,
  METRIC_NAME_LABEL,
} from './labels.ts';

/** One series: a metric of a host, with its Prometheus labels (__name__ and host included). */
export interface SeriesRef {
  host: string;
  metric: string;
  labels: Label[];
  key: string;
}

/**
 * Where points come from: raw samples, or one point per minute that has any,
 * valued at the minute's average and stamped at the minute's end (so a value at
 * an instant never holds samples from after it), with the minute's count, sum,
 * min and max for the functions that can use them exactly.
 */
export type View = 'raw' | 'minutes';

export interface Points {
  times: number[];
  values: number[];
  /** In the minute view: the aggregates behind each point. */
  minutes?: MinutePoint[];
}

const MINUTE_MS = 60_000;
/** Spellings remembered: a host's metric names repeat on every host and every query. */
const MAX_SPELLINGS = 100_000;
const spellings = new Map<string, Label[]>();

/** A metric's Prometheus labels without the host, __name__ included. */
function spelling(metric: string): Label[] {
  let labels = spellings.get(metric);
  if (!labels) {
    const series = promSeries(metric);
    labels = [[METRIC_NAME_LABEL, series.name], ...series.labels];
    if (spellings.size >= MAX_SPELLINGS) spellings.clear();
    spellings.set(metric, labels);
  }
  return labels;
}

export function seriesRef(host: string, metric: string): SeriesRef {
  const labels = labelSet([...spelling(metric), [HOST_LABEL, host]]);
  return { host, metric, labels, key: labelsKey(labels) };
}

export class SeriesCatalogue {
  constructor(
    private readonly redis: RedisClient,
    private readonly read: ReadModel,
  ) {}

  /**
   * The series matching every matcher, sorted by labels (the order Prometheus
   * evaluates in). Hosts last seen before `since` have no point after it and are
   * left out; so are hosts that an equality matcher on host rules out.
   */
  async select(
    matchers: readonly Matcher[],
    since = Number.NEGATIVE_INFINITY,
  ): Promise<SeriesRef[]> {
    const hostIs = matchers.find((m) => m.name === HOST_LABEL && m.type === '=');
    const hosts = (await this.read.hosts()).filter(
      (h) => h.lastSeen >= since && (hostIs === undefined || h.host === hostIs.value),
    );
    const names = await Promise.all(hosts.map((h) => this.read.metricNames([h.host])));
    const found: SeriesRef[] = [];
    hosts.forEach((h, i) => {
      for (const metric of names[i]!) {
        const ref = seriesRef(h.host, metric);
        if (matchers.every((m) => matches(m, labelValue(ref.labels, m.name)))) found.push(ref);
      }
    });
    return found.sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /** Points with a time in [from, to], oldest first. */
  async points(ref: SeriesRef, from: number, to: number, view: View): Promise<Points> {
    if (view === 'raw') {
      const raw = await readRaw(this.redis, ref.host, ref.metric, from, to);
      return { times: raw.map(([t]) => t), values: raw.map(([, v]) => v) };
    }
    // A minute's point is stamped at its end: minutes ending within [from, to].
    const minutes = (
      await readMinutes(this.redis, ref.host, ref.metric, from - MINUTE_MS, to - MINUTE_MS)
    ).filter((m) => m.time + MINUTE_MS >= from && m.time + MINUTE_MS <= to && m.count > 0);
    return {
      times: minutes.map((m) => m.time + MINUTE_MS),
      values: minutes.map((m) => m.sum / m.count),
      minutes,
    };
  }
}
