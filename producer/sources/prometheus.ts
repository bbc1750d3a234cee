// A Prometheus text endpoint (node_exporter's /metrics and the like), turned
// into our metrics by a mapping: series and labels -> metric, counters as
// rates from the previous scrape. Never reports a rate across a counter reset
// or from a single scrape: that interval is skipped instead.
import type { Log } from '../../deploy/runtime/log.ts';
import { checkMetricName, HOST_NAME, type Metrics, quoteName } from '../../proto/sample.ts';
import { fetchEndpoint, type RemoteSettings } from './endpoint.ts';
import type { Entry } from './file.ts';
import { parseExposition, type Series, seriesKey } from './prometheus-text.ts';
import { fitHost, type PartialRecord, type Source } from './source.ts';

export const AGGREGATES = ['sum', 'avg', 'min', 'max'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/** A label condition: the label's value is one of `values`, or (negate) none of them. */
export interface LabelMatch {
  label: string;
  values: string[];
  negate: boolean;
}

/** One metric of ours: offset + scale × aggregate over the matching series of (the rate of) their value. */
export interface SeriesMapping {
  series: string;
  labels: LabelMatch[];
  rate: boolean;
  aggregate: Aggregate;
  scale: number;
  offset: number;
  metric: string;
}

export interface PrometheusSettings extends RemoteSettings {
  type: 'prometheus';
  /** Every series' host is one name, or each series' host is in a label. */
  host: { name: string } | { label: string };
  metrics: SeriesMapping[];
}

export const PROMETHEUS_KEYS = ['host', 'host_label', 'metrics'] as const;
const MAPPING_KEYS = ['series', 'labels', 'rate', 'aggregate', 'scale', 'offset', 'metric'];
const SERIES_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Ask for the classic text format: an exporter may otherwise answer OpenMetrics.
const ACCEPT = 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1';

function readLabels(entry: Entry): LabelMatch[] {
  return (entry.mapping('labels') ?? []).map(([label, raw]) => {
    const key = `labels.${label}`;
    if (!LABEL_NAME.test(label)) entry.fail(key, 'is not a Prometheus label name');
    const items = Array.isArray(raw) ? raw : [raw];
    if (items.length === 0) entry.fail(key, 'is an empty list');
    const texts = items.map((item: unknown) => {
      if (typeof item !== 'string' && typeof item !== 'number')
        entry.fail(key, 'must be a value, a list of values, or !value for "any but"');
      return String(item);
    });
    const negated = texts.filter((t) => t.startsWith('!')).length;
    if (negated > 0 && negated < texts.length)
      entry.fail(
        key,
        'mixes values and !values: list either the ones to take or the ones to leave',
      );
    return {
      label,
      values: negated > 0 ? texts.map((t) => t.slice(1)) : texts,
      negate: negated > 0,
    };
  });
}

export function readPrometheusSettings(entry: Entry, common: RemoteSettings): PrometheusSettings {
  const fixed = entry.optionalString('host', HOST_NAME, 'is not a host name');
  const label = entry.optionalString('host_label', LABEL_NAME, 'is not a Prometheus label name');
  if (fixed !== undefined && label !== undefined)
    entry.fail('host_label', 'and host are both set: give one');
  const mappings = entry.entries('metrics') ?? entry.fail('metrics', 'is missing');
  if (mappings.length === 0) entry.fail('metrics', 'is empty');
  const metricNames = new Set<string>();
  const metrics = mappings.map((m): SeriesMapping => {
    m.checkKnown(MAPPING_KEYS);
    const metric = m.string('metric');
    try {
      checkMetricName(metric);
    } catch (err) {
      m.fail('metric', (err as Error).message);
    }
    if (metricNames.has(metric)) m.fail('metric', `${quoteName(metric)} is mapped twice`);
    metricNames.add(metric);
    return {
      series: m.string('series', SERIES_NAME, 'is not a Prometheus series name'),
      labels: readLabels(m),
      rate: m.boolean('rate', false),
      aggregate: m.oneOf('aggregate', AGGREGATES, 'sum'),
      scale: m.number('scale', 1),
      offset: m.number('offset', 0),
      metric,
    };
  });
  return {
    ...common,
    type: 'prometheus',
    // Without either, the host is the machine the URL names, so it merges with
    // what other sources report for that address.
    host:
      label !== undefined
        ? { label }
        : { name: fixed ?? fitHost(common.url.hostname.replace(/^\[|\]$/g, '')) },
    metrics,
  };
}

function labelsMatch(matches: readonly LabelMatch[], labels: Record<string, string>): boolean {
  // As in PromQL, a series without the label has it empty.
  return matches.every((m) => m.values.includes(labels[m.label] ?? '') !== m.negate);
}

function aggregate(values: readonly number[], how: Aggregate): number {
  switch (how) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
  }
}

interface Reading {
  value: number;
  /** Epoch ms: the exporter's timestamp, or when we received the answer. */
  time: number;
}

export class PrometheusSource implements Source {
  readonly name: string;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  /** Unreadable lines skipped since start. */
  skippedLines = 0;
  /** Last reading of each series a rate is taken of, from the previous scrape. */
  private previous = new Map<string, Reading>();
  private lastSkipped = 0;
  private readonly wanted: Set<string>;

  constructor(
    private readonly settings: PrometheusSettings,
    private readonly log: Log,
    /** When an answer arrived; series without a timestamp are dated by it. */
    private readonly now: () => number = Date.now,
  ) {
    this.name = settings.name;
    this.intervalSeconds = settings.intervalSeconds;
    this.timeoutMs = settings.timeoutMs;
    this.wanted = new Set(settings.metrics.map((m) => m.series));
  }

  async collect(signal: AbortSignal): Promise<PartialRecord[]> {
    const text = await fetchEndpoint(this.settings, ACCEPT, signal);
    const scrapedAt = this.now();
    const exposition = parseExposition(text);
    if (exposition.series.length === 0) {
      throw new Error(
        exposition.skipped > 0
          ? `answer is not Prometheus text: ${exposition.skipped} unreadable lines (${exposition.problems[0]})`
          : 'answer has no series',
      );
    }
    this.skippedLines += exposition.skipped;
    // Said when it changes, not on every scrape of an exporter that always writes one odd line.
    if (exposition.skipped > 0 && exposition.skipped !== this.lastSkipped) {
      this.log.warn('unreadable lines in the answer; skipped', {
        source: this.name,
        lines: exposition.skipped,
        first: exposition.problems[0],
      });
    }
    this.lastSkipped = exposition.skipped;

    const byName = new Map<string, Series[]>();
    for (const series of exposition.series) {
      if (!this.wanted.has(series.name)) continue;
      const list = byName.get(series.name) ?? [];
      list.push(series);
      byName.set(series.name, list);
    }
    const next = new Map<string, Reading>();
    const byHost = new Map<string, Metrics>();
    for (const mapping of this.settings.metrics) {
      const values = new Map<string, number[]>();
      // Hosts where some matching series has no rate this time: a sum or mean
      // over the others would be wrong, so the metric is left out for them.
      const incomplete = new Set<string>();
      for (const series of byName.get(mapping.series) ?? []) {
        if (!labelsMatch(mapping.labels, series.labels)) continue;
        const host = this.hostOf(series);
        if (host === '') continue;
        const value = mapping.rate ? this.rateOf(series, scrapedAt, next) : series.value;
        if (value === null) {
          incomplete.add(host);
          continue;
        }
        if (!Number.isFinite(value)) continue;
        const list = values.get(host) ?? [];
        list.push(value);
        values.set(host, list);
      }
      for (const [host, list] of values) {
        if (incomplete.has(host)) continue;
        const metrics = byHost.get(host) ?? {};
        metrics[mapping.metric] =
          mapping.offset + mapping.scale * aggregate(list, mapping.aggregate);
        byHost.set(host, metrics);
      }
    }
    // Only series still answered are kept: a vanished one must not hold memory forever.
    this.previous = next;
    return [...byHost].map(([host, metrics]) => ({ host, metrics }));
  }

  private hostOf(series: Series): string {
    const host = this.settings.host;
    return 'name' in host ? host.name : fitHost(series.labels[host.label] ?? '');
  }

  /** Per second since the previous scrape; null on the first scrape, after a reset, or without a new reading. */
  private rateOf(series: Series, scrapedAt: number, next: Map<string, Reading>): number | null {
    if (!Number.isFinite(series.value)) return null;
    const key = seriesKey(series);
    const before = this.previous.get(key);
    const time = series.timestamp ?? scrapedAt;
    if (before && time === before.time) {
      // The exporter gave the same reading again: keep the older one to measure from.
      next.set(key, before);
      return null;
    }
    next.set(key, { value: series.value, time });
    if (!before || time < before.time) return null;
    // A counter that went down was reset (a restart): the interval has no rate.
    if (series.value < before.value) return null;
    return (series.value - before.value) / ((time - before.time) / 1000);
  }
}
