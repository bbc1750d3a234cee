// The open incidents table, on the overview (every host) and on a host's page:
// worst first, each with its host, rule, condition and since when, who
// acknowledged it and whether a silence holds it, and its Ack and Silence…
// buttons (alerts.js). A column is one entry of INCIDENT_COLUMNS, and every row
// carries the incident's id.
import { alertState, incidentActions } from './alerts.js';
import { el, formatAge } from './api.js';

const SEVERITY_RANK = { critical: 3, warning: 2 };
/** Rows shown until the operator asks for all: the tiles stay in sight. */
const FOLDED_ROWS = 5;
/** critical first, then warning, then any other word a rule used. */
export const severityRank = (severity) => SEVERITY_RANK[severity] ?? 1;
export const severityKind = (severity) =>
  severity === 'critical' ? 'bad' : severity === 'warning' ? 'warn' : 'info';

/** @type {{ key: string, title: string, cell: (incident: object, now: number) => Node | string }[]} */
export const INCIDENT_COLUMNS = [
  {
    key: 'severity',
    title: 'Severity',
    cell: (i) => el('span', { class: `chip ${severityKind(i.severity)}`, text: i.severity }),
  },
  {
    key: 'host',
    title: 'Host',
    cell: (i) => el('a', { href: `#/host/${encodeURIComponent(i.host)}`, text: i.host }),
  },
  { key: 'rule', title: 'Rule', cell: (i) => i.rule },
  {
    key: 'condition',
    title: 'Condition',
    cell: (i) =>
      i.kind === 'absent'
        ? `no sample for ${i.window}`
        : `${i.aggregate}(${i.metric}) ${i.op} ${i.threshold} over ${i.window}`,
  },
  {
    key: 'since',
    title: 'Since',
    cell: (i, now) =>
      el('time', {
        datetime: i.opened_at,
        title: new Date(i.opened_at_ms).toLocaleString(),
        text: formatAge((now - i.opened_at_ms) / 1000),
      }),
  },
  {
    key: 'value',
    title: 'Average so far',
    cell: (i) => (i.kind === 'absent' ? '—' : Number(i.avg.toPrecision(4)).toString()),
  },
  { key: 'state', title: 'State', cell: (i) => alertState(i) },
  { key: 'actions', title: 'Actions', cell: (i) => incidentActions(i) },
];

/** Worst first, then newest first. */
export function sortIncidents(incidents) {
  return [...incidents].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) || b.opened_at_ms - a.opened_at_ms,
  );
}

/**
 * The table of `incidents` (hidden when there are none).
 * @param {HTMLElement} card the section holding the table
 */
export function renderIncidents(card, incidents, now, { hostColumn = true } = {}) {
  card.hidden = incidents.length === 0;
  const columns = INCIDENT_COLUMNS.filter((c) => hostColumn || c.key !== 'host');
  const expanded = card.dataset.expanded === 'true';
  const shown = expanded
    ? sortIncidents(incidents)
    : sortIncidents(incidents).slice(0, FOLDED_ROWS);
  const table = card.querySelector('table');
  table
    .querySelector('thead')
    .replaceChildren(
      el(
        'tr',
        {},
        ...columns.map((c) => el('th', { scope: 'col', 'data-col': c.key, text: c.title })),
      ),
    );
  table.querySelector('tbody').replaceChildren(
    ...shown.map((incident) =>
      el(
        'tr',
        {
          'data-incident': incident.id,
          'data-host': incident.host,
          class: `severity-${severityKind(incident.severity)}`,
        },
        ...columns.map((c) => el('td', { 'data-col': c.key }, c.cell(incident, now))),
      ),
    ),
  );
  card.querySelector('.count').textContent = String(incidents.length);
  const more = card.querySelector('.more');
  more.hidden = incidents.length <= FOLDED_ROWS;
  more.textContent = expanded ? 'Show the worst only' : `Show all ${incidents.length}`;
  more.onclick = () => {
    card.dataset.expanded = String(!expanded);
    renderIncidents(card, incidents, now, { hostColumn });
  };
}

/** The section an incidents table lives in. */
export function incidentsCard(title) {
  return el(
    'section',
    { class: 'card incidents', hidden: true, 'aria-label': title },
    el('h2', {}, title, ' ', el('span', { class: 'count chip bad' })),
    el('div', { class: 'table-scroll' }, el('table', {}, el('thead'), el('tbody'))),
    el('button', { type: 'button', class: 'more', hidden: true }),
  );
}
