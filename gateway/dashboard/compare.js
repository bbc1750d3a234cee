// Compare (#/compare?metric=cpu&hosts=a,b,c): one metric of several hosts on one
// chart, with the host page's ranges, zoom and resolution. Hosts' samples fall
// at their own times, so the series are aligned on the union of times (a host's
// line is drawn through the others' instants, and broken only at its own gaps).
// It follows the clock by fetching each host's newest points every few seconds
// (the live feed is per host, and a browser keeps only six connections).
import { el, getJson, guard } from './api.js';
import { TimeChart } from './charts.js';
import { fetchSeries, joinSeries, trimBefore } from './series.js';
import { TimeView } from './timeview.js';
import { UNIT_NAMES, unitOf } from './units.js';

const TAIL_MS = 10_000;
const MINUTE_REFRESH_MS = 60_000;

export function mountCompare(root, params, app) {
  const abort = new AbortController();
  const hosts = (params.get('hosts') ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  let metric = params.get('metric') || 'cpu';
  const timeView = new TimeView(
    params,
    () => app.retention.rawMs,
    () => reload(),
  );
  let series = new Map();
  let generation = 0;
  let superseded = new AbortController();
  let chart = null;

  const metricInput = el('input', {
    id: 'compare-metric',
    list: 'compare-metrics',
    value: metric,
    'aria-label': 'metric',
    autocomplete: 'off',
  });
  const metricNames = el('datalist', { id: 'compare-metrics' });
  const addInput = el('input', {
    id: 'compare-add',
    list: 'compare-hosts',
    placeholder: 'host name',
    'aria-label': 'add a host',
    autocomplete: 'off',
  });
  const hostNames = el('datalist', { id: 'compare-hosts' });
  const chips = el('div', {
    class: 'group chips',
    id: 'compare-chosen',
    'aria-label': 'hosts compared',
  });
  const heading = el('h3', { text: metric });
  const unit = el('span', { class: 'unit' });
  const box = el('div', { class: 'chart' });
  const empty = el('p', {
    class: 'muted',
    text: 'Add hosts to compare, or pick them on the fleet page.',
  });

  root.replaceChildren(
    el('nav', { class: 'crumbs' }, el('a', { href: '#/', text: '← Fleet' })),
    el('h1', { text: 'Compare hosts' }),
    el(
      'form',
      {
        class: 'toolbar',
        'aria-label': 'what to compare',
        onsubmit: (event) => {
          event.preventDefault();
          metric = metricInput.value.trim() || 'cpu';
          const name = addInput.value.trim();
          if (name && !hosts.includes(name)) hosts.push(name);
          addInput.value = '';
          changed();
        },
      },
      el('label', {}, 'Metric ', metricInput, metricNames),
      el('label', {}, 'Add host ', addInput, hostNames),
      el('button', { type: 'submit' }, 'Add'),
      chips,
    ),
    timeView.toolbar,
    el(
      'article',
      { class: 'card panel', id: 'compare-panel' },
      el('header', {}, heading, unit),
      box,
      empty,
    ),
  );
  app.title('compare');

  metricInput.addEventListener('change', () => {
    metric = metricInput.value.trim() || 'cpu';
    changed();
  });

  function remember() {
    const p = new URLSearchParams({ metric });
    if (hosts.length) p.set('hosts', hosts.join(','));
    timeView.params(p);
    app.replaceHash(`#/compare?${p.toString().replace(/%2C/g, ',')}`);
  }

  function changed() {
    renderChips();
    buildChart();
    reload();
  }

  function renderChips() {
    chips.replaceChildren(
      ...hosts.map((h) =>
        el(
          'span',
          { class: 'chip', 'data-host': h },
          el('a', { href: `#/host/${encodeURIComponent(h)}`, text: h }),
          el('button', {
            type: 'button',
            class: 'remove',
            'aria-label': `remove ${h}`,
            text: '×',
            onclick: () => {
              hosts.splice(hosts.indexOf(h), 1);
              changed();
            },
          }),
        ),
      ),
    );
    empty.hidden = hosts.length > 0;
  }

  function buildChart() {
    chart?.destroy();
    heading.textContent = metric;
    unit.textContent = UNIT_NAMES[unitOf(metric)];
    chart = new TimeChart(box, {
      unit: unitOf(metric),
      lines: hosts.map((h) => ({ key: h, label: h })),
      syncKey: 'compare',
      onZoom: (from, to) => timeView.zoomTo(from, to),
      onReset: () => timeView.resetZoom(),
    });
  }

  const reload = guard(async () => {
    const gen = ++generation;
    superseded.abort();
    superseded = new AbortController();
    const signal = AbortSignal.any([abort.signal, superseded.signal]);
    remember();
    if (!chart) return;
    const view = timeView.current();
    chart.setWindow(view.from, view.to);
    if (hosts.length === 0) return;
    const list = await Promise.all(
      hosts.map((h) => fetchSeries(h, metric, view, signal, app.retention.gapFactor)),
    );
    if (gen !== generation) return;
    series = new Map(hosts.map((h, i) => [h, list[i]]));
    chart.setData(view.step, joinSeries(list));
    chart.setWindow(view.from, view.to);
    timeView.describe(view.step, null);
    app.live(`updated ${new Date().toLocaleTimeString()}`, 'ok');
  });

  /** Each host's points since its newest one, appended. */
  const tail = guard(async () => {
    const view = timeView.current();
    if (!view.live || view.step !== 'raw' || series.size === 0) return;
    const gen = generation;
    const now = Date.now();
    await Promise.all(
      [...series].map(async ([h, s]) => {
        let last = s.xs.length - 1;
        while (last >= 0 && s.ys[last] === null) last--;
        const from = last >= 0 ? s.xs[last] * 1000 + 1 : view.from;
        if (from >= now) return;
        const fresh = await fetchSeries(h, metric, { from, to: now, step: 'raw' }, abort.signal);
        if (gen !== generation || fresh.xs.length === 0) return;
        s.xs.length = last + 1;
        s.ys.length = last + 1;
        s.xs.push(...fresh.xs);
        s.ys.push(...fresh.ys);
        trimBefore(s, view.from);
      }),
    );
    if (gen !== generation) return;
    chart.setData('raw', joinSeries([...series.values()]));
    chart.setWindow(view.from, now);
    app.live(`updated ${new Date(now).toLocaleTimeString()}`, 'ok');
  });

  guard(async () => {
    const [summary, ...names] = await Promise.all([
      getJson('api/v1/summary', { signal: abort.signal }),
      ...hosts.map((h) =>
        getJson(`api/v1/metrics?host=${encodeURIComponent(h)}`, { signal: abort.signal }).catch(
          () => ({ metrics: [] }),
        ),
      ),
    ]);
    app.setRetention(summary);
    hostNames.replaceChildren(...summary.hosts.map((h) => el('option', { value: h.host })));
    const metrics = [...new Set(names.flatMap((n) => n.metrics))].sort();
    metricNames.replaceChildren(...metrics.map((m) => el('option', { value: m })));
    changed();
  })();

  const timers = [
    setInterval(() => {
      if (!document.hidden) tail();
    }, TAIL_MS),
    setInterval(() => {
      const view = timeView.current();
      if (view.live && view.step === '1m' && !document.hidden) reload();
    }, MINUTE_REFRESH_MS),
  ];

  return {
    onKey(event) {
      if (event.key === 'Escape' && timeView.zoom) {
        timeView.resetZoom();
        return true;
      }
      return false;
    },
    restyle: () => chart?.restyle(),
    unmount() {
      for (const t of timers) clearInterval(t);
      abort.abort();
      chart?.destroy();
    },
    describe: () => ({
      metric,
      hosts: [...hosts],
      view: timeView.current(),
      chart: chart?.describe(),
    }),
  };
}
