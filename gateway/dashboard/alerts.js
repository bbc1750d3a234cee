// The dashboard's alerting part, self-contained: acknowledge or silence an
// open incident from its row, list and delete silences, create one, and see
// how delivery to each receiver fares. Plain browser JavaScript; it talks to
// the gateway's API with the same stored API token as the rest of the page.
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'loadstar.apiToken';
  const AUTHOR_KEY = 'loadstar.author';

  async function call(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = localStorage.getItem(TOKEN_KEY);
      const headers = { accept: 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (res.status === 401 && attempt === 0 && method !== 'GET') {
        const given = prompt('This gateway needs its API token (API_TOKEN):');
        if (!given) throw new Error('no API token given');
        localStorage.setItem(TOKEN_KEY, given.trim());
        continue;
      }
      if (!res.ok) throw new Error(answer.error || `${res.status} ${res.statusText}`);
      return answer;
    }
    throw new Error('the API token was not accepted');
  }

  function fail(err) {
    const box = $('error');
    box.textContent = err.message;
    box.hidden = false;
    setTimeout(() => {
      box.hidden = true;
    }, 6000);
  }

  function author() {
    let name = localStorage.getItem(AUTHOR_KEY);
    if (!name) {
      name = (prompt('Your name (shown with silences and acknowledgements):') || '').trim();
      if (!name) throw new Error('a name is needed');
      localStorage.setItem(AUTHOR_KEY, name);
    }
    return name;
  }

  function cell(content) {
    const td = document.createElement('td');
    if (typeof content === 'string') td.textContent = content;
    else td.append(content);
    return td;
  }

  function chip(text, kind) {
    const span = document.createElement('span');
    span.className = `chip ${kind}`;
    span.textContent = text;
    return span;
  }

  function button(text, onClick, kind = '') {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    if (kind) b.className = kind;
    b.addEventListener('click', (event) => {
      // The incident row itself opens the host's chart; a button must not.
      event.stopPropagation();
      onClick().catch(fail);
    });
    return b;
  }

  // ---- one incident row: its state and its actions ----------------------------

  /** Appends the state (acknowledged, silenced) and the Ack and Silence buttons to an incident row. */
  function decorate(row, incident) {
    const state = document.createElement('span');
    if (incident.acknowledged) state.append(chip(`ack: ${incident.acknowledged.author}`, 'ok'));
    if (incident.silenced_by && incident.silenced_by.length > 0)
      state.append(chip('silenced', 'warn'));
    row.append(cell(state));
    const actions = document.createElement('span');
    actions.className = 'group';
    if (!incident.acknowledged)
      actions.append(
        button('Ack', async () => {
          await call('POST', `api/v1/incidents/${incident.id}/ack`, { author: author() });
          if (typeof window.loadstarRefreshIncidents === 'function')
            await window.loadstarRefreshIncidents();
        }),
      );
    actions.append(
      button('Silence…', async () => {
        $('silence-host').value = incident.host;
        $('silence-rule').value = incident.rule;
        $('silence-severity').value = '';
        $('silence-comment').focus();
      }),
    );
    row.append(cell(actions));
  }

  // ---- silences -------------------------------------------------------------------

  function matchersText(m) {
    return Object.entries(m)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  }

  async function loadSilences() {
    const body = await call('GET', 'api/v1/silences');
    const kinds = { active: 'warn', pending: '', expired: 'muted' };
    $('silences')
      .querySelector('tbody')
      .replaceChildren(
        ...body.silences.map((s) => {
          const row = document.createElement('tr');
          row.dataset.silence = s.id;
          row.append(
            cell(matchersText(s.matchers)),
            cell(chip(s.state, kinds[s.state] || '')),
            cell(new Date(s.ends_at).toLocaleString()),
            cell(s.author),
            cell(s.comment),
            cell(
              button(
                'Delete',
                async () => {
                  await call('DELETE', `api/v1/silences/${s.id}`);
                  await loadSilences();
                },
                'danger',
              ),
            ),
          );
          return row;
        }),
      );
  }

  async function createSilence() {
    const matchers = {};
    for (const field of ['host', 'rule', 'severity']) {
      const value = $(`silence-${field}`).value.trim();
      if (value) matchers[field] = value;
    }
    const hours = Number($('silence-hours').value);
    await call('POST', 'api/v1/silences', {
      matchers,
      ends_at: new Date(Date.now() + hours * 3_600_000).toISOString(),
      comment: $('silence-comment').value.trim(),
      author: author(),
    });
    $('silence-comment').value = '';
    await loadSilences();
  }

  // ---- receivers ------------------------------------------------------------------

  async function loadReceivers() {
    const body = await call('GET', 'api/v1/receivers');
    $('receivers')
      .querySelector('tbody')
      .replaceChildren(
        ...body.receivers.map((r) => {
          const row = document.createElement('tr');
          row.dataset.receiver = r.name;
          const counts = [r.sent, r.failed, r.dropped, r.pending].map((n) => {
            const td = cell(String(n));
            td.className = 'number';
            return td;
          });
          const error = r.last_error
            ? `${r.last_error} (${new Date(r.last_error_at).toLocaleString()})`
            : '—';
          row.append(cell(r.name), cell(r.type), ...counts, cell(error));
          return row;
        }),
      );
  }

  $('silence-create').addEventListener('click', () => createSilence().catch(fail));
  const refresh = () => Promise.all([loadSilences(), loadReceivers()]).catch(fail);
  setInterval(refresh, 5000);
  refresh();

  window.loadstarAlerts = { decorate, loadSilences, loadReceivers };
})();
