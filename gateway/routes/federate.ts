// GET <base>federate?match[]=...: the latest value of every host metric the
// selectors match, in Prometheus' text exposition format with timestamps, so a
// Prometheus server scrapes loadstar as it federates another Prometheus. Values
// older than the 5-minute lookback are stale and left out, as Prometheus does.
import { HOST_LABEL } from '../../proto/prometheus-names.ts';
import { InputError } from '../../proto/sample.ts';
import type { Matcher } from '../promql/ast.ts';
import { LOOKBACK_MS } from '../promql/engine.ts';
import { compareLabels, type Label, labelValue, METRIC_NAME_LABEL } from '../promql/labels.ts';
import { PromqlError } from '../promql/lex.ts';
import { parseSelector } from '../promql/parse.ts';
import type { SeriesRef } from '../promql/series.ts';
import { SeriesCatalogue } from '../promql/series.ts';
import type { RouteGroup } from './context.ts';
import { helpOf } from './prometheus.ts';

const escapeLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A value as the text format writes it (Go's ParseFloat reads JavaScript's exponent form). */
function textValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

export interface Exposed {
  labels: Label[];
  value: number;
  time: number;
}

/** The exposition: one family per metric name, its HELP and TYPE first, series sorted by labels. */
export function renderExposition(series: Exposed[]): string {
  const byName = new Map<string, Exposed[]>();
  for (const s of series) {
    const name = labelValue(s.labels, METRIC_NAME_LABEL);
    let family = byName.get(name);
    if (!family) {
      family = [];
      byName.set(name, family);
    }
    family.push(s);
  }
  let out = '';
  for (const name of [...byName.keys()].sort()) {
    out += `# HELP ${name} ${escapeHelp(helpOf(name))}\n# TYPE ${name} gauge\n`;
    for (const s of byName.get(name)!.sort((a, b) => compareLabels(a.labels, b.labels))) {
      const labels = s.labels
        .filter(([n]) => n !== METRIC_NAME_LABEL)
        .map(([n, v]) => `${n}="${escapeLabel(v)}"`)
        .join(',');
      out += `${name}{${labels}} ${textValue(s.value)} ${s.time}\n`;
    }
  }
  return out;
}

export const federateRoutes: RouteGroup = (router, { base, redis, read }) => {
  const catalogue = new SeriesCatalogue(redis, read);

  router.get(`${base}federate`, async (ctx) => {
    const raw = ctx.query['match[]'];
    const texts = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    const sets: Matcher[][] = texts.map((text) => {
      try {
        return parseSelector(text);
      } catch (err) {
        if (err instanceof PromqlError)
          throw new InputError(`match[] ${JSON.stringify(text)}: ${err.message}`);
        throw err;
      }
    });
    const now = Date.now();
    const since = now - LOOKBACK_MS;
    const refs = new Map<string, SeriesRef>();
    for (const matchers of sets)
      for (const ref of await catalogue.select(matchers, since)) refs.set(ref.key, ref);
    const byHost = new Map<string, SeriesRef[]>();
    for (const ref of refs.values()) {
      const host = labelValue(ref.labels, HOST_LABEL);
      const list = byHost.get(host);
      if (list) list.push(ref);
      else byHost.set(host, [ref]);
    }
    const exposed: Exposed[] = [];
    await Promise.all(
      [...byHost].map(async ([host, hostRefs]) => {
        const readings = await read.latest(
          hostRefs.map((r) => r.metric),
          host,
        );
        hostRefs.forEach((ref, i) => {
          const reading = readings[i];
          if (reading && reading.time >= since)
            exposed.push({ labels: ref.labels, value: reading.value, time: reading.time });
        });
      }),
    );
    ctx.status = 200;
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
    ctx.body = renderExposition(exposed);
  });
};
