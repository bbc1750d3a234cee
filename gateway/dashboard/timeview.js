// The time range a page shows: a preset from 15 minutes to 30 days, or a zoom
// dragged on any chart; and the resolution that range is read at: raw samples
// while the range lies within raw history's retention, one-minute averages
// (with their min and max) beyond it.
import { el } from './api.js';

export const RANGES = [
  ['15m', 15 * 60_000, '15 min'],
  ['1h', 3_600_000, '1 h'],
  ['6h', 6 * 3_600_000, '6 h'],
  ['24h', 24 * 3_600_000, '24 h'],
  ['7d', 7 * 86_400_000, '7 d'],
  ['30d', 30 * 86_400_000, '30 d'],
];
/** A raw query may start this much before the retention's edge: the 24 h preset starts right at it. */
const RAW_SLACK_MS = 5 * 60_000;
/** Narrower than this is not worth a zoom (a click, not a drag). */
const MIN_ZOOM_MS = 10_000;

export class TimeView {
  /**
   * @param {URLSearchParams} params the page's address (range=, from=, to=)
   * @param {() => number} rawRetentionMs
   * @param {() => void} changed called after every change of range or zoom
   */
  constructor(params, rawRetentionMs, changed) {
    this.rawRetentionMs = rawRetentionMs;
    this.changed = changed;
    this.range = RANGES.find(([k]) => k === params.get('range')) ?? RANGES[1];
    const from = Number(params.get('from'));
    const to = Number(params.get('to'));
    this.zoom = from > 0 && to > from ? { from, to } : null;
    this.buttons = RANGES.map(([key, , label]) =>
      el('button', { type: 'button', 'data-range': key, onclick: () => this.setRange(key) }, label),
    );
    this.resolution = el('span', { class: 'muted', id: 'resolution' });
    this.reset = el(
      'button',
      { type: 'button', id: 'reset-zoom', hidden: true, onclick: () => this.resetZoom() },
      'Reset zoom',
    );
    this.toolbar = el(
      'section',
      { class: 'toolbar', 'aria-label': 'time range' },
      el('div', { class: 'group', role: 'group', 'aria-label': 'time range' }, ...this.buttons),
      this.reset,
      this.resolution,
    );
    this.sync();
  }

  /** What to show now: the zoom, or the preset ending now (live). */
  current(now = Date.now()) {
    const from = this.zoom ? this.zoom.from : now - this.range[1];
    const to = this.zoom ? this.zoom.to : now;
    const raw =
      to - from <= this.rawRetentionMs() && from >= now - this.rawRetentionMs() - RAW_SLACK_MS;
    return { from, to, step: raw ? 'raw' : '1m', live: this.zoom === null };
  }

  setRange(key) {
    this.range = RANGES.find(([k]) => k === key) ?? this.range;
    this.zoom = null;
    this.sync();
    this.changed();
  }

  zoomTo(from, to) {
    if (to - from < MIN_ZOOM_MS) return;
    const zoom = { from: Math.round(from), to: Math.round(to) };
    // Every chart of a synced group reports the same selection: one zoom, not one per chart.
    if (this.zoom && this.zoom.from === zoom.from && this.zoom.to === zoom.to) return;
    this.zoom = zoom;
    this.sync();
    this.changed();
  }

  resetZoom() {
    if (!this.zoom) return;
    this.zoom = null;
    this.sync();
    this.changed();
  }

  /** The address parameters of this view. */
  params(into) {
    if (this.range[0] !== '1h') into.set('range', this.range[0]);
    if (this.zoom) {
      into.set('from', String(this.zoom.from));
      into.set('to', String(this.zoom.to));
    }
    return into;
  }

  /** Says what the charts hold, once a series told the host's interval. */
  describe(step, intervalMs) {
    const { from, to } = this.current();
    const span = `${new Date(from).toLocaleString()} – ${this.zoom ? new Date(to).toLocaleString() : 'now'}`;
    this.resolution.textContent =
      step === 'raw'
        ? `${span} · raw samples${intervalMs ? ` every ${intervalMs / 1000} s` : ''}; a break is a gap`
        : `${span} · one-minute averages, band from min to max; a break is a gap`;
  }

  sync() {
    for (const button of this.buttons) {
      const active = button.dataset.range === this.range[0];
      button.classList.toggle('active', active && !this.zoom);
      button.setAttribute('aria-pressed', String(active && !this.zoom));
    }
    this.reset.hidden = this.zoom === null;
  }
}
