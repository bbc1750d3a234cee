// One time chart (uPlot) of metrics of one unit: units on the y axis, a legend
// that reads the values under the cursor, a cursor shared with every chart of
// the same sync key, drag to zoom (the page decides what a zoom means), gaps as
// breaks, and for one-minute data the average with a min–max band.
/* global uPlot */
import { el } from './api.js';
import { axisRange, axisSteps, formatValue, UNIT_NAMES } from './units.js';

const HEIGHT = 220;
const PALETTE_SIZE = 10;

/** The theme's colours, read from the page's CSS variables (dark mode changes them). */
export function chartColors() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    ink: read('--ink'),
    muted: read('--muted'),
    grid: read('--grid'),
    series: Array.from({ length: PALETTE_SIZE }, (_, i) => read(`--series-${i}`)),
  };
}

/** A colour with transparency, for min–max bands. */
function translucent(color, alpha) {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const n = Number.parseInt(hex[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * Points with a gap on both sides: a line cannot show them, so they get a dot.
 * Undefined values (alignment holes, quiet minutes) are drawn through, so the
 * neighbours that count are the nearest defined ones.
 */
function isolatedPoints(u, seriesIdx) {
  const ys = u.data[seriesIdx];
  const out = [];
  let before = null;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === undefined) continue;
    if (y !== null && before === null) {
      let after = i + 1;
      while (after < ys.length && ys[after] === undefined) after++;
      if (after >= ys.length || ys[after] === null) out.push(i);
    }
    before = y;
  }
  return out;
}

/** Width of the y axis: room for its longest label. */
function axisSize(_u, values) {
  const longest = Math.max(3, ...(values ?? []).map((v) => String(v).length));
  return Math.ceil(longest * 7.2) + 16;
}

export class TimeChart {
  /**
   * @param {HTMLElement} host where the chart and its legend go
   * @param {{ unit: string, lines: { key: string, label: string }[], syncKey: string,
   *   onZoom: (fromMs: number, toMs: number) => void, onReset: () => void }} options
   */
  constructor(host, options) {
    this.options = options;
    this.host = host;
    this.step = null;
    this.data = null;
    this.window = null;
    this.hidden = new Set();
    /** The last labels drawn on the y axis: what a reader sees, kept for tests. */
    this.yLabels = [];
    this.plotBox = el('div', { class: 'plot' });
    this.legend = el('ul', { class: 'legend', 'aria-label': 'series' });
    host.replaceChildren(this.plotBox, this.legend);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(host);
  }

  /** Sets the data of a step ('raw': one column per line; '1m': average, min, max per line). */
  setData(step, data) {
    this.data = data;
    if (step !== this.step || !this.plot) {
      this.step = step;
      this.build();
    } else {
      this.plot.setData(data, false);
      this.applyWindow();
    }
    this.renderLegend(null);
  }

  /** The visible time range, epoch ms. */
  setWindow(fromMs, toMs) {
    this.window = { min: fromMs / 1000, max: toMs / 1000 };
    this.applyWindow();
  }

  applyWindow() {
    if (this.plot && this.window) this.plot.setScale('x', this.window);
  }

  /** Rebuilt with the theme's colours (after a theme change). */
  restyle() {
    if (this.plot) this.build();
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  width() {
    return Math.max(240, Math.floor(this.host.clientWidth));
  }

  fit() {
    if (this.plot && this.plot.width !== this.width())
      this.plot.setSize({ width: this.width(), height: HEIGHT });
  }

  /** The uPlot series and bands of the step, in data column order. */
  seriesFor(colors) {
    const series = [{}];
    const bands = [];
    this.options.lines.forEach((line, i) => {
      const color = colors.series[i % colors.series.length];
      const visible = !this.hidden.has(line.key);
      series.push({
        label: line.label,
        stroke: color,
        width: 1.5,
        spanGaps: false,
        show: visible,
        points: { show: true, size: 5, fill: color, filter: isolatedPoints },
      });
      if (this.step === '1m') {
        const edge = {
          stroke: 'transparent',
          width: 0,
          spanGaps: false,
          show: visible,
          points: { show: false },
        };
        series.push(
          { ...edge, label: `${line.label} min` },
          { ...edge, label: `${line.label} max` },
        );
        const avg = series.length - 3;
        bands.push({ series: [avg + 2, avg + 1], fill: translucent(color, 0.18) });
      }
    });
    return { series, bands };
  }

  build() {
    this.plot?.destroy();
    const colors = chartColors();
    const { unit } = this.options;
    const { series, bands } = this.seriesFor(colors);
    const metrics = this.options.lines.map((l) => l.key);
    const fixed = axisRange(unit, metrics);
    const axis = {
      stroke: colors.muted,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1 },
      font: '12px system-ui, sans-serif',
    };
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        legend: { show: false },
        cursor: {
          sync: {
            key: this.options.syncKey,
            setSeries: false,
            // The cursor moves on every chart; a drag is the dragged chart's alone (it zooms them all).
            filters: { pub: (type) => type !== 'mousedown' && type !== 'mouseup' },
          },
          drag: { x: true, y: false, setScale: false },
          points: { size: 6 },
        },
        scales: {
          x: { time: true },
          y: {
            range: (_u, min, max) => {
              if (min === null || max === null) return fixed ?? [0, 1];
              const low = Math.min(0, min);
              const high = fixed ? Math.max(fixed[1], max) : max > low ? max * 1.08 : low + 1;
              return [low, high];
            },
          },
        },
        axes: [
          axis,
          {
            ...axis,
            size: axisSize,
            incrs: axisSteps(unit),
            values: (_u, splits) => {
              this.yLabels = splits.map((v) => formatValue(v, unit));
              return this.yLabels;
            },
          },
        ],
        series,
        bands,
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 4) return;
              const from = u.posToVal(u.select.left, 'x') * 1000;
              const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              this.options.onZoom(from, to);
            },
          ],
          setCursor: [(u) => this.renderLegend(u.cursor.idx)],
        },
      },
      this.data ?? [[]],
      this.plotBox,
    );
    this.plot.over.addEventListener('dblclick', () => this.options.onReset());
    this.plot.over.setAttribute('title', 'Drag to zoom, double-click to reset');
    this.applyWindow();
    this.legendBuilt = false;
    this.renderLegend(null);
  }

  /** Column of a line's value (its average in one-minute data). */
  column(lineIndex) {
    return 1 + lineIndex * (this.step === '1m' ? 3 : 1);
  }

  /** The legend: each line's value under the cursor, or its newest value. */
  renderLegend(idx) {
    const data = this.data;
    const { unit, lines } = this.options;
    const texts = lines.map((_, i) => {
      const col = this.column(i);
      const ys = data?.[col] ?? [];
      let at = idx;
      if (at === null || at === undefined) {
        at = ys.length - 1;
        while (at >= 0 && ys[at] == null) at--;
      }
      const value = at >= 0 ? ys[at] : null;
      if (this.step !== '1m' || value == null) return formatValue(value, unit);
      const low = formatValue(data[col + 1][at], unit);
      const high = formatValue(data[col + 2][at], unit);
      return `${formatValue(value, unit)} (${low} – ${high})`;
    });
    // Hovering calls this on every mouse move: only the values change, in place.
    if (this.legend.childElementCount === lines.length && this.legendBuilt) {
      texts.forEach((text, i) => {
        const value = this.legend.children[i].querySelector('.value');
        if (value.textContent !== text) value.textContent = text;
      });
      return;
    }
    const colors = chartColors().series;
    this.legend.replaceChildren(
      ...lines.map((line, i) => {
        const shown = !this.hidden.has(line.key);
        return el(
          'li',
          {},
          el(
            'button',
            {
              type: 'button',
              class: shown ? '' : 'off',
              'aria-pressed': String(shown),
              title: shown ? `Hide ${line.label}` : `Show ${line.label}`,
              onclick: () => this.toggle(line.key, i),
            },
            el('span', { class: 'swatch', style: `background:${colors[i % PALETTE_SIZE]}` }),
            el('span', { class: 'label', text: line.label }),
            el('span', { class: 'value', text: texts[i] }),
          ),
        );
      }),
    );
    this.legendBuilt = true;
  }

  toggle(key, lineIndex) {
    if (this.hidden.has(key)) this.hidden.delete(key);
    else this.hidden.add(key);
    const show = !this.hidden.has(key);
    const col = this.column(lineIndex);
    const columns = this.step === '1m' ? [col, col + 1, col + 2] : [col];
    for (const c of columns) this.plot?.setSeries(c, { show });
    this.legendBuilt = false;
    this.renderLegend(null);
  }

  /** For tests and the curious: what the chart shows. */
  describe() {
    return {
      step: this.step,
      unit: this.options.unit,
      unitName: UNIT_NAMES[this.options.unit],
      yLabels: this.yLabels,
      lines: this.options.lines.map((l) => l.label),
      x: this.plot ? { min: this.plot.scales.x.min, max: this.plot.scales.x.max } : null,
      data: this.data,
    };
  }
}
