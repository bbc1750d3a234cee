// Acknowledgements and silences on the dashboard: the two columns every
// incidents table gets (what holds the incident, and its Ack and Silence…
// buttons), and the fleet page's card of silences (list, create, delete) and
// receivers (how delivery to each fares). Writes carry the API token (api.js);
// nothing here runs before a page mounts it, so Node can load it for tests.
import { el, getJson, guard, send } from './api.js';

const AUTHOR_KEY = 'loadstar.author';
const REFRESH_MS = 5000;
const SILENCE_ORDER = { active: 0, pending: 1, expired: 2 };
const SILENCE_KIND = { active: 'warn', pending: 'info', expired: '' };

/** Sent on window when an acknowledgement or a silence changed: the page showing incidents refreshes. */
export const INCIDENTS_CHANGED = 'loadstar:incidents-changed';

/** The fleet page's silence form while it is mounted; else where the Silence… of a host page waits. */
let form = null;
let pendingSilence = null;

/** The name shown with acknowledgements and silences: asked once, kept in localStorage. */
function author() {
  let name = localStorage.getItem(AUTHOR_KEY);
  if (!name) {
    name = (prompt('Your name (shown with silences and acknowledgements):') || '').trim();
    if (!name) throw new Error('a name is needed to acknowledge or silence');
    localStorage.setItem(AUTHOR_KEY, name);
  }
  return name;
}

const changed = () => window.dispatchEvent(new Event(INCIDENTS_CHANGED));

/** A button whose action is shown as failed, not thrown, and cannot be pressed twice at once. */
function actionButton(text, attributes, action) {
  const button = el('button', { type: 'button', ...attributes }, text);
  button.addEventListener(
    'click',
    guard(async () => {
      button.disabled = true;
      try {
        await action();
      } finally {
        button.disabled = false;
      }
    }),
  );
  return button;
}

// ---- the incidents table's columns -------------------------------------------

/** Who acknowledged the incident, and whether a silence holds it now. */
export function alertState(incident) {
  const ack = incident.acknowledged;
  const held = (incident.silenced_by ?? []).length;
  return el(
    'span',
    { class: 'group' },
    ack
      ? el('span', {
          class: 'chip ok',
          title: `acknowledged ${new Date(ack.at_ms).toLocaleString()}${ack.comment ? `: ${ack.comment}` : ''}`,
          text: `ack: ${ack.author}`,
        })
      : null,
    held
      ? el('span', {
          class: 'chip warn',
          title: `nothing is sent about it while ${held === 1 ? 'this silence holds' : `these ${held} silences hold`}`,
          text: 'silenced',
        })
      : null,
  );
}

/** Ack (until someone has) and Silence… (fills the fleet page's silence form). */
export function incidentActions(incident) {
  return el(
    'span',
    { class: 'group actions' },
    incident.acknowledged
      ? null
      : actionButton(
          'Ack',
          { title: 'Acknowledge: someone is on it (no more reminders)' },
          async () => {
            await send('POST', `api/v1/incidents/${incident.id}/ack`, { author: author() });
            changed();
          },
        ),
    el(
      'button',
      {
        type: 'button',
        title: `Silence ${incident.rule} on ${incident.host}`,
        onclick: () => requestSilence(incident),
      },
      'Silence…',
    ),
  );
}

/** Fills the silence form for this incident's host and rule; from a host's page, on the fleet page. */
export function requestSilence(incident) {
  const wanted = { host: incident.host, rule: incident.rule };
  if (form) {
    form.prefill(wanted);
  } else {
    pendingSilence = wanted;
    location.hash = '#/';
  }
}

// ---- the silences and receivers card --------------------------------------------

function matchersText(matchers) {
  return Object.entries(matchers)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/**
 * The card of silences and receivers (folded to one line of counts until
 * opened, or until Silence… fills its form). `start` once it is in the page,
 * `stop` when the page goes.
 */
export function alertsCard() {
  const field = (id, attributes) => el('input', { id, autocomplete: 'off', ...attributes });
  const host = field('silence-host', { placeholder: 'web-01 or db-*', size: 12 });
  const rule = field('silence-rule', { placeholder: 'any', size: 10 });
  const severity = field('silence-severity', { placeholder: 'any', size: 8 });
  const comment = field('silence-comment', { placeholder: 'maintenance', size: 20 });
  const hours = el(
    'select',
    { id: 'silence-hours' },
    el('option', { value: '1', text: '1 h' }),
    el('option', { value: '4', text: '4 h' }),
    el('option', { value: '24', text: '1 day' }),
  );
  const silencesBody = el('tbody');
  const silencesTable = el(
    'table',
    { id: 'silences', 'aria-label': 'silences' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Matches', 'State', 'Until', 'By', 'Comment', ''].map((t) =>
          el('th', { scope: 'col', text: t }),
        ),
      ),
    ),
    silencesBody,
  );
  const noSilence = el('p', { class: 'muted', text: 'No silence: every incident is sent.' });
  const receiversBody = el('tbody');
  const receiversTable = el(
    'table',
    { id: 'receivers', 'aria-label': 'receivers' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Name', 'Type', 'Sent', 'Failed', 'Dropped', 'Waiting', 'Last error'].map((t) =>
          el('th', { scope: 'col', text: t }),
        ),
      ),
    ),
    receiversBody,
  );
  const noReceiver = el('p', {
    class: 'muted',
    text: 'No receiver: incidents are shown here and sent nowhere.',
  });
  const silenceCount = el('span', { class: 'chip', id: 'silence-count' });
  const receiverCount = el('span', { class: 'chip', id: 'receiver-count' });

  const create = guard(async () => {
    const matchers = {};
    for (const [name, input] of [
      ['host', host],
      ['rule', rule],
      ['severity', severity],
    ]) {
      const value = input.value.trim();
      if (value) matchers[name] = value;
    }
    await send('POST', 'api/v1/silences', {
      matchers,
      ends_at: new Date(Date.now() + Number(hours.value) * 3_600_000).toISOString(),
      comment: comment.value.trim(),
      author: author(),
    });
    comment.value = '';
    await refresh();
    changed();
  });

  const card = el(
    'details',
    { class: 'card alerts', id: 'alerts-card' },
    el(
      'summary',
      {},
      el('h2', { text: 'Silences and receivers' }),
      ' ',
      silenceCount,
      ' ',
      receiverCount,
    ),
    el('p', {
      class: 'muted',
      text: 'Nothing is sent about the incidents a silence matches, from now until it ends.',
    }),
    el('div', { class: 'table-scroll' }, silencesTable),
    noSilence,
    el(
      'form',
      {
        class: 'silence-form',
        'aria-label': 'new silence',
        onsubmit: (event) => {
          event.preventDefault();
          create();
        },
      },
      el('label', {}, 'Host ', host),
      el('label', {}, 'Rule ', rule),
      el('label', {}, 'Severity ', severity),
      el('label', {}, 'For ', hours),
      el('label', {}, 'Why ', comment),
      el('button', { type: 'submit', id: 'silence-create' }, 'Silence'),
    ),
    el('h3', {}, 'Receivers ', el('span', { class: 'muted', text: '(where alerts go)' })),
    el('div', { class: 'table-scroll' }, receiversTable),
    noReceiver,
  );

  function renderSilences(list) {
    const sorted = [...list].sort(
      (a, b) =>
        (SILENCE_ORDER[a.state] ?? 3) - (SILENCE_ORDER[b.state] ?? 3) ||
        a.ends_at_ms - b.ends_at_ms,
    );
    silencesBody.replaceChildren(
      ...sorted.map((s) =>
        el(
          'tr',
          { 'data-silence': s.id },
          el('td', { text: matchersText(s.matchers) }),
          el('td', {}, el('span', { class: `chip ${SILENCE_KIND[s.state] ?? ''}`, text: s.state })),
          el('td', { text: when(s.ends_at) }),
          el('td', { text: s.author }),
          el('td', { class: 'comment', text: s.comment }),
          el(
            'td',
            {},
            actionButton('Delete', { class: 'danger', title: 'End this silence now' }, async () => {
              await send('DELETE', `api/v1/silences/${s.id}`);
              await refresh();
              changed();
            }),
          ),
        ),
      ),
    );
    silencesTable.hidden = list.length === 0;
    noSilence.hidden = list.length > 0;
    const active = list.filter((s) => s.state === 'active').length;
    silenceCount.textContent = `${active} active silence${active === 1 ? '' : 's'}`;
    silenceCount.className = `chip ${active ? 'warn' : ''}`;
  }

  function renderReceivers(list) {
    receiversBody.replaceChildren(
      ...list.map((r) =>
        el(
          'tr',
          { 'data-receiver': r.name },
          el('td', { text: r.name }),
          el('td', { text: r.type }),
          ...[r.sent, r.failed, r.dropped, r.pending].map((n) =>
            el('td', { class: 'number', text: String(n) }),
          ),
          el('td', {
            class: 'comment',
            text: r.last_error ? `${r.last_error} (${when(r.last_error_at)})` : '—',
          }),
        ),
      ),
    );
    receiversTable.hidden = list.length === 0;
    noReceiver.hidden = list.length > 0;
    // Failing: its last attempt was an error, not a delivery.
    const failing = list.filter(
      (r) => r.last_error_at && (!r.last_sent_at || r.last_error_at > r.last_sent_at),
    ).length;
    receiverCount.textContent = `${list.length} receiver${list.length === 1 ? '' : 's'}${failing ? `, ${failing} failing` : ''}`;
    receiverCount.className = `chip ${failing ? 'bad' : ''}`;
  }

  const refresh = guard(async () => {
    const [silences, receivers] = await Promise.all([
      getJson('api/v1/silences'),
      getJson('api/v1/receivers'),
    ]);
    renderSilences(silences.silences);
    renderReceivers(receivers.receivers);
  });

  let timer = null;
  return {
    card,
    start() {
      form = {
        prefill(wanted) {
          card.open = true;
          host.value = wanted.host;
          rule.value = wanted.rule;
          severity.value = '';
          comment.focus();
        },
      };
      if (pendingSilence) {
        form.prefill(pendingSilence);
        pendingSilence = null;
      }
      refresh();
      timer = setInterval(() => {
        if (!document.hidden) refresh();
      }, REFRESH_MS);
    },
    stop() {
      clearInterval(timer);
      form = null;
    },
  };
}
