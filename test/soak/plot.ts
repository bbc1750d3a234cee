// Draws the RSS of each pipeline process over the run as an SVG line chart
// and photographs it with headless Chromium into a PNG for docs/soak.md.
import { chromium } from 'playwright-core';
import type { ProcessFigures, SoakRun } from './report.ts';

const WIDTH = 1000;
const HEIGHT = 420;
// The right margin holds the legend: the longest label and its verdict must fit.
const MARGIN = { left: 60, right: 330, top: 40, bottom: 45 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

const xmlText = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A chart of the judged processes' RSS in MB against minutes, warm-up shaded. */
export function renderSvg(run: SoakRun): string {
  const lines: (ProcessFigures & { dashed: boolean })[] = [
    ...run.processes
      .filter((p) => p.judged || p.name === 'redis-server')
      .map((p) => ({ ...p, dashed: false })),
    { ...run.redisLessAggregates, dashed: true },
  ];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const maxMinutes = run.durationMs / 60_000;
  const maxMb =
    Math.max(
      1,
      ...lines.flatMap((l) => l.points.map((p) => p.bytes / 2 ** 20).filter(Number.isFinite)),
    ) * 1.1;
  // A round step for the y axis: 1, 2 or 5 times a power of ten, about 6 ticks.
  const raw = maxMb / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  const yStep = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const x = (minutes: number) => MARGIN.left + (minutes / maxMinutes) * plotW;
  const y = (mb: number) => MARGIN.top + plotH - (mb / maxMb) * plotH;
  const parts: string[] = [];
  const warmup = run.warmupMs / 60_000;
  parts.push(
    `<rect x="${x(0)}" y="${MARGIN.top}" width="${x(warmup) - x(0)}" height="${plotH}" fill="#eee"/>`,
    `<text x="${(x(0) + x(warmup)) / 2}" y="${MARGIN.top + 14}" text-anchor="middle" font-size="11" fill="#888">warm-up</text>`,
  );
  for (let mb = 0; mb <= maxMb; mb += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(mb)}" y2="${y(mb)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(mb) + 4}" text-anchor="end" font-size="11">${mb}</text>`,
    );
  }
  const xStep = maxMinutes > 3 ? 1 : 0.25;
  for (let m = 0; m <= maxMinutes + 1e-9; m += xStep) {
    parts.push(
      `<text x="${x(m)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" font-size="11">${Number(m.toFixed(2))}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle" font-size="12">minutes</text>`,
    `<text x="14" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">RSS, MB</text>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${xmlText(
      `Resident memory per process: ${run.options.rate.toLocaleString('en-US')} samples/s offered from ${run.options.hosts.toLocaleString('en-US')} hosts, ${run.options.subscribers} gRPC subscribers`,
    )}</text>`,
  );
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length]!;
    const path = line.points
      .filter((p) => Number.isFinite(p.bytes))
      .map(
        (p, k) =>
          `${k === 0 ? 'M' : 'L'}${x(p.atMs / 60_000).toFixed(1)},${y(p.bytes / 2 ** 20).toFixed(1)}`,
      )
      .join(' ');
    parts.push(
      `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    const legendY = MARGIN.top + 10 + i * 20;
    const verdict = line.judged ? (line.trend.ok ? 'ok' : 'GROWS') : '';
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 15}" x2="${WIDTH - MARGIN.right + 40}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${WIDTH - MARGIN.right + 46}" y="${legendY + 4}" font-size="11">${xmlText(
        `${line.label}${verdict ? ` (${(line.trend.growth * 100).toFixed(1)} %, ${verdict})` : ''}`,
      )}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">${parts.join('')}</svg>`;
}

export async function renderPlot(run: SoakRun, pngPath: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT } });
    await page.setContent(
      `<!doctype html><html><body style="margin:0;background:#fff">${renderSvg(run)}</body></html>`,
    );
    await page.locator('svg').screenshot({ path: pngPath });
  } finally {
    await browser.close();
  }
}
