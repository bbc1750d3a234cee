// A host's page (#/host/<name>): every metric it reports, grouped the way
// operators read them, one chart per kind and unit, all sharing one cursor and
// one time range (a preset or a zoom dragged on any chart); live points over the
// gateway's server-sent events. Charts fetch their history when they come into
// view, so a host with a hundred metrics costs what is on screen.
import { INCIDENTS_CHANGED } from './alerts.js';
import { el, formatAge, formatInterval, getJson, guard } from './api.js';
import { TimeChart } from './charts.js';
import { groupMetrics } from './groups.js';
import { incidentsCard, renderIncidents, severityKind } from './incidents.js';
import { recordingBar, setRecordingChip } from './recording.js';
import { appendPoint, fetchSeries, joinSeries, trimBefore } from './series.js';
import { TimeView } from './timeview.js';
import { UNIT_NAMES } from './units.js';

const HEADER_REFRESH_MS = 5000;
/** One-minute charts follow the clock by reloading; a minute fills slowly. */
const MINUTE_REFRESH_MS = 60_000;
const SLIDE_MS = 5000;

const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-');

export function mountHost(root, host, params, app) {
  const abort = new AbortController();
  const timeView = new TimeView(
    params,
    () => app.retention.rawMs,
    () => viewChanged(),
  );
  const panels = [];
  const known = new Set();
  let generation = 0;
  /** Aborts the requests of the range shown before: a new range never waits behind an old one. */
  let superseded = new AbortController();
  let stream = null;
  let relayoutTimer = null;
  let frame = null;

  const title = el('h1', { id: 'host-name', text: host });
  const state = el('span', { class: 'chip', id: 'host-state' });
  const badges = el('span', { class: 'badges', id: 'host-badges' });
  const seen = el('span', { class: 'muted', id: 'host-seen' });
  const { bar: recording, chip: recordingChip } = recordingBar(host, (action) => {
    refreshHeader();
    if (action === 'reset') viewChanged();
  });
  const incidents = incidentsCard('Open incidents of this host');
  incidents.id = 'host-incidents';
  const jump = el('nav', { class: 'jump', 'aria-label': 'groups of charts' });
  const groupsBox = el('div', { class: 'groups', id: 'groups' });

  root.replaceChildren(
    el('nav', { class: 'crumbs' }, el('a', { href: '#/', text: '← Fleet' })),
    el('section', { class: 'host-head' }, title, state, badges, seen),
    recording,
    incidents,
    timeView.toolbar,
    jump,
    groupsBox,
  );
  app.title(host);

  const visibility = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const panel = panels.find((p) => p.box === entry.target);
        if (!panel) continue;
        panel.visible = entry.isIntersecting;
        if (panel.visible && panel.loadedFor !== generation) loadGuarded(panel);
      }
    },
    { rootMargin: '300px 0px' },
  );

  function remember() {
    app.replaceHash(
      `#/host/${encodeURIComponent(host)}${query(timeView.params(new URLSearchParams()))}`,
    );
  }

  function layout(metrics) {
    for (const p of panels) {
      p.chart.destroy();
      visibility.unobserve(p.box);
    }
    panels.length = 0;
    known.clear();
    for (const m of metrics) known.add(m);
    const groups = groupMetrics(metrics);
    jump.replaceChildren(
      ...groups.map((g) =>
        el('a', { href: `#group-${slug(g.group)}`, 'data-jump': g.group, text: g.group }),
      ),
    );
    // In-page links would change the route: scroll instead.
    for (const a of jump.querySelectorAll('a')) {
      a.addEventListener('click', (event) => {
        event.preventDefault();
        document
          .getElementById(`group-${slug(a.dataset.jump)}`)
          ?.scrollIntoView({ block: 'start' });
      });
    }
    groupsBox.replaceChildren(
      ...groups.map((g) => {
        const heading = el('h2', { id: `group-${slug(g.group)}-title`, text: g.group });
        return el(
          'section',
          {
            class: 'metric-group',
            id: `group-${slug(g.group)}`,
            'data-group': g.group,
            'aria-labelledby': heading.id,
          },
          heading,
          el(
            'div',
            { class: 'panels' },
            ...g.panels.map((def) => {
              const box = el('div', { class: 'chart' });
              const card = el(
                'article',
                { class: 'card panel', 'data-panel': def.key, 'aria-label': def.title },
                el(
                  'header',
                  {},
                  el('h3', { text: def.title }),
                  el('span', { class: 'unit', text: UNIT_NAMES[def.unit] }),
                ),
                box,
              );
              const panel = {
                def,
                group: g.group,
                card,
                box,
                visible: false,
                loadedFor: null,
                dataFor: null,
                series: null,
                chart: new TimeChart(box, {
                  unit: def.unit,
                  lines: def.series.map((s) => ({ key: s.metric, label: s.label })),
                  syncKey: `host:${host}`,
                  onZoom: (from, to) => timeView.zoomTo(from, to),
                  onReset: () => timeView.resetZoom(),
                }),
              };
              panels.push(panel);
              visibility.observe(box);
              return card;
            }),
          ),
        );
      }),
    );
    if (groups.length === 0)
      groupsBox.replaceChildren(
        el('p', { class: 'muted', text: 'This host has reported no metrics.' }),
      );
  }

  async function load(panel) {
    const gen = generation;
    const signal = AbortSignal.any([abort.signal, superseded.signal]);
    const view = timeView.current();
    panel.loadedFor = gen;
    panel.card.classList.add('loading');
    try {
      const list = await Promise.all(
        panel.def.series.map((s) =>
          fetchSeries(host, s.metric, view, signal, app.retention.gapFactor),
        ),
      );
      if (gen !== generation) return;
      panel.series = new Map(panel.def.series.map((s, i) => [s.metric, list[i]]));
      panel.dataFor = gen;
      panel.chart.setData(view.step, joinSeries(list));
      panel.chart.setWindow(view.from, view.to);
      timeView.describe(view.step, list[0]?.intervalMs);
    } catch (err) {
      if (gen === generation) panel.loadedFor = null;
      throw err;
    } finally {
      if (gen === generation) panel.card.classList.remove('loading');
    }
  }
  const loadGuarded = guard(load);

  function viewChanged() {
    generation++;
    superseded.abort();
    superseded = new AbortController();
    remember();
    const view = timeView.current();
    for (const panel of panels) {
      // The new range at once; its data follows.
      panel.chart.setWindow(view.from, view.to);
      if (panel.visible) loadGuarded(panel);
    }
  }

  /** A live sample: appended to every loaded raw chart that shows one of its metrics. */
  function onSample(sample) {
    if (!sample.recorded) {
      app.live('live, not recording', 'warn');
      return;
    }
    app.live('live', 'ok');
    const view = timeView.current();
    if (view.step !== 'raw') return;
    for (const name of Object.keys(sample.values)) if (!known.has(name)) relayoutSoon();
    for (const panel of panels) {
      // Only into data of the range shown now: a chart still loading gets the point with its history.
      if (panel.dataFor !== generation) continue;
      let changed = false;
      for (const [metric, series] of panel.series) {
        const value = sample.values[metric];
        if (value === undefined || series.step !== 'raw') continue;
        changed = appendPoint(series, sample.time, value) || changed;
      }
      if (changed) panel.dirty = true;
    }
    if (frame === null) frame = requestAnimationFrame(redraw);
  }

  function redraw() {
    frame = null;
    const view = timeView.current();
    for (const panel of panels) {
      if (!panel.dirty) continue;
      panel.dirty = false;
      const list = [...panel.series.values()];
      if (view.live) for (const s of list) trimBefore(s, view.from);
      panel.chart.setData(view.step, joinSeries(list));
      panel.chart.setWindow(view.from, view.to);
    }
  }

  /** A metric the layout has not seen: fetch the names again, shortly, and lay out anew. */
  function relayoutSoon() {
    if (relayoutTimer) return;
    relayoutTimer = setTimeout(
      guard(async () => {
        relayoutTimer = null;
        const body = await getJson(`api/v1/metrics?host=${encodeURIComponent(host)}`, {
          signal: abort.signal,
        });
        if (body.metrics.some((m) => !known.has(m))) {
          layout(body.metrics);
          viewChanged();
        }
      }),
      2000,
    );
  }

  function connect() {
    stream?.close();
    stream = new EventSource(`api/v1/stream?host=${encodeURIComponent(host)}`);
    stream.onopen = () => app.live('live', 'ok');
    stream.onerror = () => app.live('reconnecting…', 'warn');
    stream.onmessage = (event) => onSample(JSON.parse(event.data));
  }

  const refreshHeader = guard(async () => {
    let summary;
    let status;
    try {
      [summary, status] = await Promise.all([
        getJson(`api/v1/summary?host=${encodeURIComponent(host)}`, { signal: abort.signal }),
        getJson(`api/v1/recording?host=${encodeURIComponent(host)}`, { signal: abort.signal }),
      ]);
    } catch (err) {
      if (/^no host/.test(err.message)) {
        state.textContent = 'unknown';
        seen.textContent = 'This host has never reported.';
        return;
      }
      throw err;
    }
    app.setRetention(summary);
    const h = summary.hosts[0];
    state.textContent = h.state;
    state.className = `chip state-${h.state} ${h.state === 'live' ? 'ok' : h.state === 'stale' ? 'warn' : 'bad'}`;
    badges.replaceChildren(
      ...h.open_incidents.map((i) =>
        el('span', { class: `chip ${severityKind(i.severity)}`, text: `${i.count} ${i.severity}` }),
      ),
    );
    seen.textContent = `seen ${formatAge(h.age_seconds)} · ${formatInterval(h.interval)}`;
    setRecordingChip(recordingChip, status);
    renderIncidents(incidents, summary.incidents, summary.time_ms, { hostColumn: false });
  });

  const start = guard(async () => {
    const [metrics] = await Promise.all([
      getJson(`api/v1/metrics?host=${encodeURIComponent(host)}`, { signal: abort.signal }),
      refreshHeader(),
    ]);
    layout(metrics.metrics);
    viewChanged();
    connect();
    // Opened from an alert: its metric's chart in sight.
    const metric = params.get('metric');
    const panel = metric && panels.find((p) => p.def.series.some((s) => s.metric === metric));
    if (panel) {
      panel.card.classList.add('focus');
      panel.card.scrollIntoView({ block: 'center' });
    }
  });
  start();

  // An acknowledgement shows at once, not at the next refresh.
  const onIncidentsChanged = () => refreshHeader();
  window.addEventListener(INCIDENTS_CHANGED, onIncidentsChanged);

  const timers = [
    setInterval(() => {
      if (!document.hidden) refreshHeader();
    }, HEADER_REFRESH_MS),
    setInterval(() => {
      const view = timeView.current();
      if (!view.live || view.step !== 'raw') return;
      for (const panel of panels) if (panel.series) panel.chart.setWindow(view.from, view.to);
    }, SLIDE_MS),
    setInterval(() => {
      const view = timeView.current();
      if (view.live && view.step === '1m' && !document.hidden) viewChanged();
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
    restyle() {
      for (const panel of panels) panel.chart.restyle();
    },
    unmount() {
      for (const t of timers) clearInterval(t);
      window.removeEventListener(INCIDENTS_CHANGED, onIncidentsChanged);
      clearTimeout(relayoutTimer);
      abort.abort();
      stream?.close();
      visibility.disconnect();
      for (const panel of panels) panel.chart.destroy();
    },
    describe: () => ({
      host,
      view: timeView.current(),
      zoomed: timeView.zoom !== null,
      groups: [...groupsBox.querySelectorAll('.metric-group')].map((g) => g.dataset.group),
      panels: panels.map((p) => ({
        key: p.def.key,
        group: p.group,
        title: p.def.title,
        loaded: p.dataFor === generation,
        ...p.chart.describe(),
      })),
    }),
  };
}

function query(params) {
  const text = params.toString();
  return text ? `?${text}` : '';
}
