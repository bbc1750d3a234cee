// The loadstar dashboard: two charts of one host's metric (raw points and
// one-minute averages, gaps drawn as breaks, never bridged), live updates over
// server-sent events, recording control and the hosts' status. Plain browser
// JavaScript with uPlot; everything comes from the gateway that serves it.
/* global uPlot */

const $ = (id) => document.getElementById(id);
const state = {
  host: null,
  metric: 'cpu',
  rangeMs: 3_600_000,
  raw: { xs: [], ys: [], intervalMs: 5000, gapMs: 10_000 },
  avg: [[], [], [], []],
  stream: null,
  lastEventAt: 0,
  hosts: [],
};

// ---- talking to the gateway ------------------------------------------------

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

/** POSTs with the API token when one is known; asks for it once when the gateway wants one. */
async function post(path) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = localStorage.getItem('loadstar.apiToken');
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const res = await fetch(path, { method: 'POST', headers });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401 && attempt === 0) {
      const given = prompt('This gateway needs its API token (API_TOKEN):');
      if (!given) throw new Error('no API token given');
      localStorage.setItem('loadstar.apiToken', given.trim());
      continue;
    }
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }
  throw new Error('the API token was not accepted');
}

// ---- charts -----------------------------------------------------------------

function chartWidth(el) {
  return Math.max(300, el.clientWidth);
}

/** Points with a gap on both sides: a line cannot show them, so they get a dot. */
function isolatedPoints(u, seriesIdx) {
  const ys = u.data[seriesIdx];
  const out = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] !== null && ys[i - 1] == null && ys[i + 1] == null) out.push(i);
  }
  return out;
}

function makeChart(el, series) {
  return new uPlot(
    {
      width: chartWidth(el),
      height: 260,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { size: 64 }],
      series: [{}, ...series],
      legend: { live: true },
    },
    [[], ...series.map(() => [])],
    el,
  );
}

const rawChart = makeChart($('raw-chart'), [
  {
    label: 'value',
    stroke: '#2f6fdf',
    width: 1.5,
    spanGaps: false,
    points: { show: true, size: 5, filter: isolatedPoints },
  },
]);
const avgChart = makeChart($('avg-chart'), [
  {
    label: 'average',
    stroke: '#1f8a4c',
    width: 2,
    spanGaps: false,
    points: { show: true, size: 5, filter: isolatedPoints },
  },
  {
    label: 'min',
    stroke: '#9bb8a5',
    width: 1,
    dash: [4, 4],
    spanGaps: false,
    points: { show: true, size: 5, filter: isolatedPoints },
  },
  {
    label: 'max',
    stroke: '#9bb8a5',
    width: 1,
    dash: [4, 4],
    spanGaps: false,
    points: { show: true, size: 5, filter: isolatedPoints },
  },
]);

window.addEventListener('resize', () => {
  rawChart.setSize({ width: chartWidth($('raw-chart')), height: 260 });
  avgChart.setSize({ width: chartWidth($('avg-chart')), height: 260 });
});

function windowSeconds() {
  const now = Date.now();
  return { min: (now - state.rangeMs) / 1000, max: now / 1000 };
}

function drawRaw() {
  rawChart.setData([state.raw.xs, state.raw.ys], false);
  rawChart.setScale('x', windowSeconds());
}

function drawAvg() {
  avgChart.setData(state.avg, false);
  avgChart.setScale('x', windowSeconds());
}

// ---- data -------------------------------------------------------------------

function query(extra) {
  const params = new URLSearchParams({ host: state.host, metric: state.metric, ...extra });
  return params.toString();
}

async function loadRaw() {
  const from = Date.now() - state.rangeMs;
  const body = await getJson(`api/v1/history?${query({ step: 'raw', from: String(from) })}`);
  state.raw = {
    xs: body.points.map((p) => p[0] / 1000),
    ys: body.points.map((p) => p[1]),
    intervalMs: body.interval * 1000,
    gapMs: body.gap_after_ms,
  };
  $('raw-caption').textContent =
    `(every ${body.interval} s; a gap is more than ${body.gap_after_ms / 1000} s without a sample)`;
  drawRaw();
}

async function loadAvg() {
  const from = Date.now() - state.rangeMs;
  const body = await getJson(`api/v1/history?${query({ step: '1m', from: String(from) })}`);
  state.avg = [
    body.points.map((p) => p[0] / 1000),
    body.points.map((p) => p[1]),
    body.points.map((p) => p[3]),
    body.points.map((p) => p[4]),
  ];
  drawAvg();
}

/** A live sample: appended to the raw chart (after a null when it follows a gap). */
function addLivePoint(time, value) {
  const raw = state.raw;
  const last = raw.xs.length ? raw.xs[raw.xs.length - 1] * 1000 : null;
  if (last !== null && time <= last) return;
  if (last !== null && time - last > raw.gapMs) {
    raw.xs.push((last + raw.intervalMs) / 1000);
    raw.ys.push(null);
  }
  raw.xs.push(time / 1000);
  raw.ys.push(value);
  const cutoff = (Date.now() - state.rangeMs) / 1000;
  while (raw.xs.length && raw.xs[0] < cutoff) {
    raw.xs.shift();
    raw.ys.shift();
  }
  drawRaw();
}

function setLive(text, kind) {
  const chip = $('live');
  chip.textContent = text;
  chip.className = `chip ${kind}`;
}

function connectStream() {
  if (state.stream) state.stream.close();
  if (!state.host) return;
  const source = new EventSource(`api/v1/stream?${query({})}`);
  state.stream = source;
  source.onopen = () => setLive('live', 'ok');
  source.onerror = () => setLive('reconnecting…', 'warn');
  source.onmessage = (event) => {
    const sample = JSON.parse(event.data);
    state.lastEventAt = Date.now();
    const value = sample.values[state.metric];
    // A sample that history does not keep (recording paused) is not drawn: the chart shows history.
    if (value !== undefined && sample.recorded) addLivePoint(sample.time, value);
    setLive(sample.recorded ? 'live' : 'live, not recording', sample.recorded ? 'ok' : 'warn');
  };
}

// ---- hosts, metrics, recording ------------------------------------------------

function recordingText(status) {
  if (status.recording) return ['recording', 'ok'];
  return [status.paused_by === 'all' ? 'paused (all hosts)' : 'paused', 'warn'];
}

function formatAge(seconds) {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function renderHosts(body) {
  const tbody = $('hosts').querySelector('tbody');
  tbody.replaceChildren(
    ...body.hosts.map((h) => {
      const row = document.createElement('tr');
      row.dataset.host = h.host;
      if (h.host === state.host) row.classList.add('selected');
      if (h.stale) row.classList.add('stale');
      const [text, kind] = recordingText(h.recording);
      const cells = [
        h.host,
        new Date(h.last_seen).toLocaleString(),
        formatAge(h.age_seconds),
        h.interval ? `${h.interval} s` : '—',
        null,
        String(h.samples_stored),
      ];
      for (const [i, value] of cells.entries()) {
        const cell = document.createElement('td');
        if (i === 4) {
          const chip = document.createElement('span');
          chip.className = `chip ${kind}`;
          chip.textContent = text;
          cell.append(chip);
        } else {
          cell.textContent = value;
        }
        if (i === 5) cell.className = 'number';
        row.append(cell);
      }
      row.addEventListener('click', () => selectHost(h.host));
      return row;
    }),
  );
  const [allText, allKind] = recordingText(body.recording);
  $('recording-all').textContent = `all hosts: ${allText}`;
  $('recording-all').className = `chip ${allKind}`;
  const mine = body.hosts.find((h) => h.host === state.host);
  if (mine) {
    const [text, kind] = recordingText(mine.recording);
    $('recording-host').textContent = text;
    $('recording-host').className = `chip ${kind}`;
  }
  $('recording-host-name').textContent = state.host || 'this host';
}

async function loadHosts() {
  const body = await getJson('api/v1/hosts');
  state.hosts = body.hosts;
  const select = $('host');
  const names = body.hosts.map((h) => h.host);
  if (
    select.options.length !== names.length ||
    names.some((n, i) => select.options[i].value !== n)
  ) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  if (!state.host || !names.includes(state.host)) {
    const newest = [...body.hosts].sort((a, b) => b.last_seen_ms - a.last_seen_ms)[0];
    if (newest) await selectHost(newest.host, { skipHosts: true });
  }
  select.value = state.host || '';
  renderHosts(body);
}

async function loadMetrics() {
  const body = await getJson(`api/v1/metrics?host=${encodeURIComponent(state.host)}`);
  const select = $('metric');
  select.replaceChildren(...body.metrics.map((m) => new Option(m, m)));
  if (!body.metrics.includes(state.metric))
    state.metric = body.metrics.includes('cpu') ? 'cpu' : body.metrics[0] || 'cpu';
  select.value = state.metric;
}

async function reload() {
  if (!state.host) return;
  await Promise.all([loadRaw(), loadAvg()]);
  connectStream();
}

async function selectHost(host, { skipHosts = false } = {}) {
  state.host = host;
  $('host').value = host;
  await loadMetrics();
  await reload();
  if (!skipHosts) await loadHosts();
}

async function recordingAction(action, allHosts) {
  const scope = allHosts ? 'all hosts' : state.host;
  if (action === 'reset' && !confirm(`Wipe the history of ${scope}? This cannot be undone.`))
    return;
  const params = new URLSearchParams();
  if (!allHosts) params.set('host', state.host);
  if (action === 'reset') params.set('confirm', 'yes');
  await post(`api/v1/recording/${action}?${params}`);
  await loadHosts();
  if (action === 'reset') await reload();
}

async function loadIncidents() {
  const body = await getJson('api/v1/incidents?state=open');
  const card = $('incidents-card');
  card.hidden = body.incidents.length === 0;
  const kinds = { critical: 'bad', warning: 'warn' };
  $('incidents')
    .querySelector('tbody')
    .replaceChildren(
      ...body.incidents.map((i) => {
        const row = document.createElement('tr');
        row.dataset.incident = i.id;
        const severity = document.createElement('span');
        severity.className = `chip ${kinds[i.severity] || ''}`;
        severity.textContent = i.severity;
        const cells = [
          severity,
          i.host,
          i.rule,
          i.kind === 'absent'
            ? `no sample for ${i.window}`
            : `${i.aggregate}(${i.metric}) ${i.op} ${i.threshold} over ${i.window}`,
          new Date(i.opened_at).toLocaleString(),
          i.kind === 'absent' ? '—' : Number(i.avg.toPrecision(4)).toString(),
        ];
        for (const value of cells) {
          const cell = document.createElement('td');
          if (typeof value === 'string') cell.textContent = value;
          else cell.append(value);
          row.append(cell);
        }
        // Acknowledge and silence (alerts.js).
        window.loadstarAlerts?.decorate(row, i);
        row.addEventListener('click', () => {
          guard(async () => {
            await selectHost(i.host);
            if (!i.metric) return;
            state.metric = i.metric;
            $('metric').value = i.metric;
            await reload();
          })();
        });
        return row;
      }),
    );
}

// ---- wiring --------------------------------------------------------------------

function guard(task) {
  return () => task().catch((err) => showError(err.message));
}

$('host').addEventListener(
  'change',
  guard(() => selectHost($('host').value)),
);
$('metric').addEventListener(
  'change',
  guard(async () => {
    state.metric = $('metric').value;
    await reload();
  }),
);
for (const button of document.querySelectorAll('[data-range]')) {
  button.addEventListener(
    'click',
    guard(async () => {
      state.rangeMs = Number(button.dataset.range);
      for (const b of document.querySelectorAll('[data-range]'))
        b.classList.toggle('active', b === button);
      await reload();
    }),
  );
}
for (const [id, action, all] of [
  ['pause-host', 'pause', false],
  ['resume-host', 'resume', false],
  ['reset-host', 'reset', false],
  ['pause-all', 'pause', true],
  ['resume-all', 'resume', true],
  ['reset-all', 'reset', true],
]) {
  $(id).addEventListener(
    'click',
    guard(() => recordingAction(action, all)),
  );
}

// Status every 5 s; averages every 15 s (a minute fills slowly); the raw chart is live.
setInterval(guard(loadHosts), 5000);
setInterval(guard(loadIncidents), 5000);
setInterval(
  guard(async () => {
    if (state.host) await loadAvg();
  }),
  15000,
);
setInterval(() => {
  if (state.raw.xs.length) drawRaw();
}, 5000);

window.loadstarRefreshIncidents = loadIncidents;

// A link from an alert (#host=web-01&metric=cpu) opens that host's chart.
const linked = new URLSearchParams(location.hash.slice(1));
if (linked.get('host')) {
  state.metric = linked.get('metric') || state.metric;
  guard(() => selectHost(linked.get('host')))();
} else {
  guard(loadHosts)();
}
guard(loadIncidents)();

// For tests and the curious: what the charts hold right now.
window.loadstar = {
  state,
  rawData: () => rawChart.data,
  avgData: () => avgChart.data,
};
