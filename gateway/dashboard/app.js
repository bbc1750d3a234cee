// The dashboard's shell: hash routes (#/ the fleet, #/host/<name> one host,
// #/compare several hosts), the header (live status, theme toggle) and the keys
// that work everywhere. Plain browser JavaScript modules, served as they are.
import { mountCompare } from './compare.js';
import { mountHost } from './host.js';
import { mountOverview } from './overview.js';

const $ = (id) => document.getElementById(id);
const main = $('view');
let current = null;
let currentName = '';
/** `/` pressed on another page: the fleet's filter takes the focus once it is there. */
let focusFilter = false;

/** What every page shares: the history retention, the header's status, the address. */
const app = {
  retention: { rawMs: 86_400_000, minuteMs: 30 * 86_400_000, gapFactor: 2 },
  setRetention(summary) {
    app.retention.rawMs = summary.raw_retention_ms;
    app.retention.minuteMs = summary.minute_retention_ms;
    app.retention.gapFactor = summary.gap_factor;
  },
  live(text, kind) {
    const chip = $('live');
    if (chip.textContent !== text) chip.textContent = text;
    chip.className = `chip ${kind}`;
  },
  title(text) {
    document.title = text ? `${text} · loadstar` : 'loadstar';
  },
  /** Keeps the page's state in the address without a new history entry or a reload. */
  replaceHash(hash) {
    if (location.hash !== hash) history.replaceState(null, '', hash);
  },
};

/**
 * A link from an alert (the notifier's `#host=web-01&incident=…&metric=cpu`,
 * older than these routes and kept in chat histories) opens that host's page
 * at that metric.
 */
function alertLink() {
  if (location.hash.startsWith('#/')) return;
  const linked = new URLSearchParams(location.hash.slice(1));
  const host = linked.get('host');
  if (!host) return;
  const metric = linked.get('metric');
  const search = metric ? `?${new URLSearchParams({ metric })}` : '';
  history.replaceState(null, '', `#/host/${encodeURIComponent(host)}${search}`);
}

function route() {
  alertLink();
  const [path, search = ''] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(search);
  current?.unmount();
  app.live('connecting…', '');
  app.title('');
  if (path.startsWith('/host/')) {
    currentName = 'host';
    current = mountHost(main, decodeURIComponent(path.slice('/host/'.length)), params, app);
  } else if (path === '/compare') {
    currentName = 'compare';
    current = mountCompare(main, params, app);
  } else {
    currentName = 'fleet';
    current = mountOverview(main, params, app);
    if (focusFilter) current.focusFilter();
  }
  focusFilter = false;
  for (const link of document.querySelectorAll('[data-nav]'))
    link.toggleAttribute('aria-current', link.dataset.nav === currentName);
  window.scrollTo(0, 0);
}

function syncThemeButton() {
  const dark = document.documentElement.dataset.theme === 'dark';
  const button = $('theme');
  button.setAttribute('aria-pressed', String(dark));
  button.textContent = dark ? '☀ Light' : '☾ Dark';
  button.title = dark ? 'Switch to the light theme (t)' : 'Switch to the dark theme (t)';
}

$('theme').addEventListener('click', () => window.loadstarTheme.toggle());
window.addEventListener('loadstar:theme', () => {
  syncThemeButton();
  current?.restyle?.();
});

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName);
  if (event.key === 'Escape') {
    if (current?.onKey?.(event)) return;
    if (typing) event.target.blur();
    return;
  }
  if (typing) return;
  if (event.key === '/') {
    event.preventDefault();
    if (currentName === 'fleet') {
      current.focusFilter();
    } else {
      focusFilter = true;
      location.hash = '#/';
    }
  } else if (event.key === 't') {
    window.loadstarTheme.toggle();
  }
});

window.addEventListener('hashchange', route);
syncThemeButton();
route();

// For tests and the curious: what the current page shows.
window.loadstar = {
  page: () => currentName,
  describe: () => current?.describe?.(),
};
