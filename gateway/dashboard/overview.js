// The fleet overview: one tile per host (state, newest cpu, mem, disk and load, a
// 15-minute cpu sparkline, open incidents by severity), sortable and filterable,
// paged so a thousand hosts stay fast; the open incidents on top (acknowledge,
// silence), the silences and receivers, and recording control for all hosts. One
// request (api/v1/summary) per refresh, whatever the number of hosts.
import { alertsCard, INCIDENTS_CHANGED } from './alerts.js';
import { el, formatAge, formatInterval, getJson, guard } from './api.js';
import { incidentsCard, renderIncidents, severityKind, severityRank } from './incidents.js';
import { recordingBar, setRecordingChip } from './recording.js';
import { formatParts, formatValue, unitOf } from './units.js';

const REFRESH_MS = 5000;
const PAGE_SIZES = [60, 120, 240, 480];
const DEFAULT_PAGE_SIZE = 120;
const STATE_RANK = { offline: 4, stale: 1, live: 0 };
const FIGURES = [
  ['cpu', 'cpu'],
  ['mem', 'mem'],
  ['disk', 'disk'],
  ['load.1', 'load'],
];
const SORTS = {
  state: { label: 'state (trouble first)', compare: (a, b) => trouble(b) - trouble(a) },
  name: { label: 'name', compare: () => 0 },
  cpu: { label: 'cpu', compare: (a, b) => byValue(a, b, 'cpu') },
  mem: { label: 'mem', compare: (a, b) => byValue(a, b, 'mem') },
  disk: { label: 'disk', compare: (a, b) => byValue(a, b, 'disk') },
};
const FILTERS = [
  ['all', 'All', () => true],
  ['live', 'Live', (h) => h.state === 'live'],
  ['stale', 'Stale', (h) => h.state === 'stale'],
  ['offline', 'Offline', (h) => h.state === 'offline'],
  ['incidents', 'With incidents', (h) => h.open_incidents.length > 0],
];

/**
 * How much trouble a host is in, for "sort by state": a critical incident, then
 * offline, then a warning, then any other open incident, then stale, then live.
 */
export function trouble(h) {
  const worst = Math.max(0, ...h.open_incidents.map((i) => severityRank(i.severity)));
  const incident = worst === 3 ? 5 : worst === 2 ? 3 : worst === 1 ? 2 : 0;
  return Math.max(incident, STATE_RANK[h.state] ?? 0);
}

/** Highest first; hosts without the value last. */
function byValue(a, b, metric) {
  const x = a.values[metric];
  const y = b.values[metric];
  if (x === null) return y === null ? 0 : 1;
  if (y === null) return -1;
  return y - x;
}

/** The sparkline as an SVG path: a break at every minute without samples, a dot for a lone minute. */
export function sparkPath(values, width, height, max = 100) {
  const step = width / Math.max(1, values.length - 1);
  const y = (v) => (height - 1 - (Math.min(max, Math.max(0, v)) / max) * (height - 2)).toFixed(1);
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    const x = (i * step).toFixed(1);
    const joined = i > 0 && values[i - 1] !== null;
    d += joined ? `L${x} ${y(v)}` : `M${x} ${y(v)}`;
    if (!joined && (i === values.length - 1 || values[i + 1] === null)) d += 'h0.1';
  });
  return d;
}

/** The summary the page's head asked for while the modules loaded: used once, if it came back well. */
async function firstSummary() {
  const early = window.loadstarFirstSummary;
  window.loadstarFirstSummary = null;
  const res = await early;
  return res?.ok ? res.json() : null;
}

function storedPicks() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem('loadstar.compare') ?? '[]'));
  } catch {
    return new Set();
  }
}

export function mountOverview(root, params, app) {
  const view = {
    q: params.get('q') ?? '',
    show: FILTERS.some(([k]) => k === params.get('show')) ? params.get('show') : 'all',
    sort: Object.hasOwn(SORTS, params.get('sort') ?? '') ? params.get('sort') : 'state',
    reverse: params.get('reverse') === '1',
    page: Math.max(1, Number(params.get('page')) || 1),
    pageSize: PAGE_SIZES.includes(Number(params.get('per')))
      ? Number(params.get('per'))
      : DEFAULT_PAGE_SIZE,
  };
  const picks = storedPicks();
  let summary = null;
  let rendered = false;
  const tiles = new Map();
  const abort = new AbortController();

  const incidents = incidentsCard('Open incidents');
  incidents.id = 'incidents-card';
  incidents.querySelector('table').id = 'incidents';
  const alerts = alertsCard();
  const { bar: recording, chip: recordingChip } = recordingBar(null, () => refresh());
  const filter = el('input', {
    type: 'search',
    id: 'filter',
    placeholder: 'Filter by host name  ( / )',
    'aria-label': 'filter hosts by name',
    value: view.q,
    autocomplete: 'off',
  });
  const showButtons = FILTERS.map(([key, label]) =>
    el(
      'button',
      { type: 'button', 'data-show': key, 'aria-pressed': String(view.show === key) },
      label,
    ),
  );
  const sort = el(
    'select',
    { id: 'sort', 'aria-label': 'sort hosts by' },
    ...Object.entries(SORTS).map(([key, s]) => el('option', { value: key, text: s.label })),
  );
  sort.value = view.sort;
  const reverse = el('button', {
    type: 'button',
    id: 'reverse',
    'aria-pressed': String(view.reverse),
    title: 'Reverse the order',
    text: '⇅',
  });
  const perPage = el(
    'select',
    { id: 'per-page', 'aria-label': 'hosts per page' },
    ...PAGE_SIZES.map((n) => el('option', { value: String(n), text: `${n} per page` })),
  );
  perPage.value = String(view.pageSize);
  const compare = el('a', { class: 'button', id: 'compare-link', href: '#/compare' });
  const status = el('p', { class: 'muted status', id: 'overview-status', 'aria-live': 'polite' });
  const grid = el('div', { class: 'tiles', id: 'tiles', role: 'list', 'aria-label': 'hosts' });
  const pager = el('nav', { class: 'pager', 'aria-label': 'pages' });

  root.replaceChildren(
    incidents,
    alerts.card,
    recording,
    el(
      'section',
      { class: 'toolbar', 'aria-label': 'filter and sort' },
      filter,
      el('div', { class: 'group', role: 'group', 'aria-label': 'show' }, ...showButtons),
      el('label', {}, 'Sort by ', sort),
      reverse,
      perPage,
      compare,
    ),
    status,
    grid,
    pager,
  );

  /** Keeps the view in the address, so a reload or a shared link shows the same. */
  function remember() {
    const p = new URLSearchParams();
    if (view.q) p.set('q', view.q);
    if (view.show !== 'all') p.set('show', view.show);
    if (view.sort !== 'state') p.set('sort', view.sort);
    if (view.reverse) p.set('reverse', '1');
    if (view.page > 1) p.set('page', String(view.page));
    if (view.pageSize !== DEFAULT_PAGE_SIZE) p.set('per', String(view.pageSize));
    app.replaceHash(`#/${p.size ? `?${p}` : ''}`);
  }

  function renderCompareLink() {
    const hosts = [...picks];
    compare.textContent = hosts.length
      ? `Compare ${hosts.length} host${hosts.length > 1 ? 's' : ''}`
      : 'Compare…';
    compare.href = `#/compare${hosts.length ? `?hosts=${hosts.map(encodeURIComponent).join(',')}` : ''}`;
  }

  function makeTile(host) {
    const link = el('a', { class: 'name', href: `#/host/${encodeURIComponent(host)}`, text: host });
    const pick = el('input', { type: 'checkbox', 'aria-label': `compare ${host}` });
    pick.checked = picks.has(host);
    pick.addEventListener('change', () => {
      if (pick.checked) picks.add(host);
      else picks.delete(host);
      sessionStorage.setItem('loadstar.compare', JSON.stringify([...picks]));
      renderCompareLink();
    });
    const badges = el('span', { class: 'badges' });
    const figures = FIGURES.map(([metric, label]) => {
      const value = el('dd');
      const fill = el('span');
      const row = el(
        'div',
        { 'data-metric': metric },
        el('dt', { text: label }),
        value,
        metric === 'load.1' ? null : el('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
      );
      return { metric, row, value, fill };
    });
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    const spark = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    spark.setAttribute('class', 'spark');
    spark.setAttribute('viewBox', '0 0 140 30');
    spark.setAttribute('preserveAspectRatio', 'none');
    spark.setAttribute('role', 'img');
    spark.append(path);
    const foot = el('footer');
    const tile = el(
      'article',
      { class: 'tile', role: 'listitem', 'data-host': host },
      el(
        'header',
        {},
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        link,
        badges,
        el('label', { class: 'pick', title: 'Pick for comparison' }, pick),
      ),
      el('dl', { class: 'figures' }, ...figures.map((f) => f.row)),
      spark,
      foot,
    );
    return { tile, link, badges, figures, path, spark, foot, key: '' };
  }

  function fillTile(t, h) {
    // Redrawn only when something it shows changed: a refresh of a thousand hosts touches few.
    t.foot.textContent = `${h.state} · seen ${formatAge(h.age_seconds)} · ${formatInterval(h.interval)}`;
    const key = JSON.stringify([h.state, h.values, h.sparkline, h.open_incidents, h.recording]);
    if (key === t.key) return;
    t.key = key;
    const worst = h.open_incidents[0];
    t.tile.className = `tile state-${h.state}${worst ? ` trouble-${severityKind(worst.severity)}` : ''}`;
    t.tile.dataset.state = h.state;
    t.badges.replaceChildren(
      ...h.open_incidents.map((i) =>
        el('span', { class: `chip ${severityKind(i.severity)}`, text: `${i.count} ${i.severity}` }),
      ),
      ...(h.recording ? [] : [el('span', { class: 'chip warn', text: 'paused' })]),
    );
    for (const f of t.figures) {
      const value = h.values[f.metric];
      const [number, unit] = formatParts(value, unitOf(f.metric));
      f.value.replaceChildren(number, unit ? el('span', { class: 'u', text: ` ${unit}` }) : '');
      if (f.metric !== 'load.1') {
        const pct = value === null ? 0 : Math.min(100, Math.max(0, value));
        f.fill.style.width = `${pct}%`;
        f.fill.className = pct >= 90 ? 'bad' : pct >= 75 ? 'warn' : '';
      }
    }
    t.path.setAttribute('d', sparkPath(h.sparkline, 140, 30));
    const known = h.sparkline.filter((v) => v !== null);
    t.spark.setAttribute(
      'aria-label',
      known.length
        ? `cpu over the last 15 minutes, ${formatValue(Math.min(...known), 'percent')} to ${formatValue(Math.max(...known), 'percent')}`
        : 'no cpu in the last 15 minutes',
    );
  }

  function visibleHosts() {
    const q = view.q.trim().toLowerCase();
    const keep = FILTERS.find(([k]) => k === view.show)[2];
    const list = summary.hosts.filter((h) => keep(h) && (!q || h.host.toLowerCase().includes(q)));
    const compareBy = SORTS[view.sort].compare;
    list.sort((a, b) => compareBy(a, b) || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    if (view.reverse) list.reverse();
    return list;
  }

  function render() {
    if (!summary) return;
    renderIncidents(incidents, summary.incidents, summary.time_ms);
    setRecordingChip(recordingChip, summary.recording);
    for (const button of showButtons) {
      const [key, label, keep] = FILTERS.find(([k]) => k === button.dataset.show);
      button.textContent = `${label} ${summary.hosts.filter(keep).length}`;
      button.setAttribute('aria-pressed', String(view.show === key));
    }
    const list = visibleHosts();
    const pages = Math.max(1, Math.ceil(list.length / view.pageSize));
    view.page = Math.min(view.page, pages);
    const start = (view.page - 1) * view.pageSize;
    const shown = list.slice(start, start + view.pageSize);
    const focused = document.activeElement?.closest?.('.tile')?.dataset.host;
    const nodes = shown.map((h) => {
      let t = tiles.get(h.host);
      if (!t) {
        t = makeTile(h.host);
        tiles.set(h.host, t);
      }
      fillTile(t, h);
      return t.tile;
    });
    const same =
      grid.childElementCount === nodes.length && nodes.every((n, i) => grid.children[i] === n);
    if (!same) {
      grid.replaceChildren(...nodes);
      if (focused) tiles.get(focused)?.link.focus({ preventScroll: true });
    }
    status.textContent =
      list.length === 0
        ? summary.hosts.length === 0
          ? 'No host has reported yet.'
          : 'No host matches.'
        : `Hosts ${start + 1}–${start + shown.length} of ${list.length}${list.length < summary.hosts.length ? ` (${summary.hosts.length} in all)` : ''} · updated ${new Date(summary.time_ms).toLocaleTimeString()}`;
    pager.replaceChildren(
      ...(pages > 1
        ? [
            el(
              'button',
              {
                type: 'button',
                id: 'page-prev',
                disabled: view.page <= 1,
                onclick: () => go(view.page - 1),
              },
              '‹ Previous',
            ),
            el('span', { text: `Page ${view.page} of ${pages}` }),
            el(
              'button',
              {
                type: 'button',
                id: 'page-next',
                disabled: view.page >= pages,
                onclick: () => go(view.page + 1),
              },
              'Next ›',
            ),
          ]
        : []),
    );
    if (!rendered) {
      rendered = true;
      // The first frame with tiles in it: what `npm run bench -- --dashboard` times.
      requestAnimationFrame(() => setTimeout(() => performance.mark('loadstar:overview-rendered')));
    }
  }

  function go(page) {
    view.page = page;
    remember();
    render();
    grid.querySelector('a.name')?.focus({ preventScroll: true });
    root.scrollIntoView({ block: 'start' });
  }

  /** Refreshes may overlap (the timer, an acknowledgement): only the newest one's answer is shown. */
  let asked = 0;
  const refresh = guard(async () => {
    const mine = ++asked;
    const answer =
      (await firstSummary()) ?? (await getJson('api/v1/summary', { signal: abort.signal }));
    if (mine !== asked) return;
    summary = answer;
    app.setRetention(summary);
    app.live(`updated ${new Date(summary.time_ms).toLocaleTimeString()}`, 'ok');
    render();
  });

  filter.addEventListener('input', () => {
    view.q = filter.value;
    view.page = 1;
    remember();
    render();
  });
  for (const button of showButtons) {
    button.addEventListener('click', () => {
      view.show = button.dataset.show;
      view.page = 1;
      remember();
      render();
    });
  }
  sort.addEventListener('change', () => {
    view.sort = sort.value;
    remember();
    render();
  });
  reverse.addEventListener('click', () => {
    view.reverse = !view.reverse;
    reverse.setAttribute('aria-pressed', String(view.reverse));
    remember();
    render();
  });
  perPage.addEventListener('change', () => {
    view.pageSize = Number(perPage.value);
    view.page = 1;
    remember();
    render();
  });
  // Arrow keys move between tiles as they sit in the grid.
  grid.addEventListener('keydown', (event) => {
    const links = [...grid.querySelectorAll('a.name')];
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    const top = links[0].closest('.tile').offsetTop;
    const columns = Math.max(1, links.filter((l) => l.closest('.tile').offsetTop === top).length);
    const moves = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: columns,
      ArrowUp: -columns,
      Home: -at,
      End: links.length - 1 - at,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    links[Math.min(links.length - 1, Math.max(0, at + moves[event.key]))].focus();
  });

  renderCompareLink();
  refresh();
  alerts.start();
  const timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
  // An acknowledgement or a silence shows at once, not at the next refresh.
  const onIncidentsChanged = () => refresh();
  window.addEventListener(INCIDENTS_CHANGED, onIncidentsChanged);

  return {
    /** `/` on the page jumps here. */
    focusFilter: () => filter.focus(),
    unmount() {
      clearInterval(timer);
      window.removeEventListener(INCIDENTS_CHANGED, onIncidentsChanged);
      alerts.stop();
      abort.abort();
    },
    describe: () => ({
      summary,
      view: { ...view },
      shown: [...grid.children].map((t) => t.dataset.host),
    }),
  };
}
