// Talking to the gateway that serves the page: JSON reads, the writes of
// recording control, acknowledgements and silences (with the API token, asked
// for once), and one place to show an error. Every request goes through
// access.js, which adds the read token when the gateway wants one.

/** Shows a message at the bottom of the page for a few seconds. */
export function showError(message) {
  const box = document.getElementById('error');
  box.textContent = message;
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

/** A task whose failure is shown, never thrown at the browser. */
export function guard(task) {
  return (...args) =>
    Promise.resolve()
      .then(() => task(...args))
      .catch((err) => {
        if (err?.name !== 'AbortError') showError(err.message);
      });
}

export async function getJson(path, { signal } = {}) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

/**
 * A write (POST, DELETE) with the API token when one is known, and `body` as
 * JSON when given; asks for the token once when the gateway wants one. A read
 * token the gateway refused is access.js's question, not this one.
 */
export async function send(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = localStorage.getItem('loadstar.apiToken');
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    const wantsApiToken =
      res.status === 401 && !/scope="read"/.test(res.headers.get('www-authenticate') ?? '');
    if (wantsApiToken && attempt === 0) {
      const given = prompt('This gateway needs its API token (API_TOKEN):');
      if (!given) throw new Error('no API token given');
      localStorage.setItem('loadstar.apiToken', given.trim());
      continue;
    }
    if (!res.ok) throw new Error(answer.error || `${res.status} ${res.statusText}`);
    return answer;
  }
  throw new Error('the API token was not accepted');
}

/** POSTs (recording control, acknowledgements, silences); see send. */
export const post = (path, body) => send('POST', path, body);

/** Builds an element: el('a', { href, class: 'x' }, child, 'text'). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** "12 s ago", "4 min ago", "3.5 h ago". */
export function formatAge(seconds) {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h ago`;
  return `${(seconds / 86_400).toFixed(1)} d ago`;
}

/** "every 5 s". */
export function formatInterval(seconds) {
  if (!seconds) return 'interval unknown';
  return seconds < 90 ? `every ${seconds} s` : `every ${Math.round(seconds / 60)} min`;
}
