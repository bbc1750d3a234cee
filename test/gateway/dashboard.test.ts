// The dashboard in a real headless Chromium, against a fleet of 100 hosts
// posting: the overview's tiles (values, states, a stopped host offline,
// incidents, acknowledging and silencing them), sorting, filtering and keys; a
// host's page with every group of metrics, units on the axes, gaps, drag to
// zoom, live points and 30 days of one-minute averages; compare; recording
// control; dark mode and a phone's width. No console errors anywhere. Saves the
// screenshots in docs/.
/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Browser, chromium, type Dialog, type Page } from 'playwright-core';
import type { RunningGateway } from '../../gateway/service.ts';
import { DEFAULT_RULES_SOURCE } from '../../receiver/rules/rules.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import type { RunningStore } from '../../receiver/store/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  everyMetric,
  FleetPoster,
  fleetHistory,
  fleetHost,
  newestValues,
  postBatch,
} from '../harness/fleet.ts';
import { gatewayOn, postSample, receiverOn, rulesOn, storeOn } from '../harness/pipeline.ts';
import { REPO } from '../harness/processes.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];
const MINUTE = 60_000;
const FLEET = 100;
/** Hosts 0–97 keep posting; 98 went quiet 4 minutes ago (stale), 99 stopped 20 minutes ago (offline). */
const LIVE = Array.from({ length: FLEET - 2 }, (_, i) => i);
const STALE = fleetHost(98);
const STOPPED = fleetHost(99);
/** Every kind of metric, 2 hours at 5 s, silent from 40 to 30 minutes ago. */
const FULL = 'full-01';
/** 30 days of cpu and mem at one a minute. */
const MONTH = 'month-01';

// The page's own formatting, so expected texts are written as the page writes them.
// biome-ignore lint/suspicious/noExplicitAny: the page's modules are untyped browser JavaScript.
let units: any;

interface PanelView {
  key: string;
  group: string;
  title: string;
  loaded: boolean;
  step: string;
  unit: string;
  unitName: string;
  yLabels: string[];
  lines: string[];
  x: { min: number; max: number } | null;
  data: (number | null | undefined)[][];
}
interface HostView {
  host: string;
  view: { from: number; to: number; step: string; live: boolean };
  zoomed: boolean;
  groups: string[];
  panels: PanelView[];
}

describe('dashboard in Chromium', function () {
  this.timeout(120_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let store: RunningStore;
  let rules: RunningRules;
  let gateway: RunningGateway;
  let poster: FleetPoster;
  let fullPoster: NodeJS.Timeout;
  let browser: Browser;
  let page: Page;
  let rulesDir: string;
  const problems: string[] = [];
  /** Epoch ms of a seeded minute of MONTH 20 days ago, and its cpu. */
  let monthProbe: [number, number];

  before(async () => {
    units = await import(new URL('../../gateway/dashboard/units.js', import.meta.url).href);
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url, SAMPLE_MAX_AGE: '31d' };
    // The default rules but host-down: the stale and the stopped host show their state, not an incident.
    rulesDir = mkdtempSync(join(tmpdir(), 'loadstar-dashboard-'));
    writeFileSync(
      join(rulesDir, 'rules.json'),
      JSON.stringify({ rules: DEFAULT_RULES_SOURCE.rules.filter((r) => r.name !== 'host-down') }),
    );
    [receiver, store, gateway, rules] = await Promise.all([
      receiverOn(env),
      storeOn(env),
      gatewayOn(env),
      rulesOn({ ...env, RULES_FILE: join(rulesDir, 'rules.json') }),
    ]);
    let now = Date.now();
    await postBatch(
      receiver.url,
      fleetHistory([98], { intervalS: 60, minutes: 15 }, now - 4 * MINUTE, now),
    );
    await postBatch(
      receiver.url,
      fleetHistory([99], { intervalS: 10, minutes: 15 }, now - 20 * MINUTE, now),
    );
    await postBatch(receiver.url, fleetHistory(LIVE, { intervalS: 10, minutes: 15 }, now - 1000));
    poster = new FleetPoster(receiver.url, LIVE, 10);
    await poster.start();

    now = Date.now();
    const full = [];
    for (let t = now - 2 * 3_600_000; t < now - 5000; t += 5000) {
      const minutesAgo = (now - t) / MINUTE;
      if (minutesAgo < 40 && minutesAgo > 30) continue;
      full.push({ host: FULL, time: t, interval: 5, metrics: everyMetric(t) });
    }
    await postBatch(receiver.url, full);
    const postFull = () =>
      postSample(receiver.url, everyMetric(Date.now()), {
        'Loadstar-Host': FULL,
        'Loadstar-Interval': '5',
      });
    await postFull();
    fullPoster = setInterval(postFull, 5000);

    // Last: the rules consumer reads the stream in order, and the fleet's incidents should not wait behind a month.
    now = Date.now();
    const month = [];
    const start = now - 30 * 86_400_000 + 2 * MINUTE;
    for (let t = start - (start % MINUTE); t < now - MINUTE; t += MINUTE) {
      const cpu = Math.round((50 + 40 * Math.sin(t / 86_400_000)) * 100) / 100;
      month.push({ host: MONTH, time: t, interval: 60, metrics: { cpu, mem: 42.5 } });
    }
    const probeAt = month[month.length - 20 * 24 * 60]!;
    monthProbe = [probeAt.time, probeAt.metrics.cpu];
    await postBatch(receiver.url, month);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });
  after(async () => {
    clearInterval(fullPoster);
    await poster?.stop();
    await browser?.close();
    await Promise.all([receiver?.stop(), store?.stop(), gateway?.stop(), rules?.stop()]);
    if (rulesDir) removeDir(rulesDir);
    for (const s of [nats, redis]) {
      await s?.stop();
      if (s) removeDir(s.dir);
    }
  });
  afterEach(() => {
    expect(problems, 'console errors').to.deep.equal([]);
    expect(poster.error).to.equal(null);
  });

  const open = async (hash: string) => {
    await page.goto(`${gateway.url.href}${hash}`);
  };
  const tiles = () => page.locator('#tiles .tile');
  const shownHosts = () =>
    page.$$eval('#tiles .tile', (nodes) => nodes.map((n) => (n as HTMLElement).dataset.host!));
  const hostView = () =>
    page.evaluate(
      () =>
        (
          globalThis as unknown as { loadstar: { describe(): unknown } }
        ).loadstar.describe() as HostView,
    );
  /** Makes the viewport as tall as the page, so every chart is in view and loads. */
  async function showWholePage(width = 1280) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width, height: Math.min(height, 12_000) });
  }
  async function waitForAllPanels(): Promise<HostView> {
    return eventually(
      async () => {
        const view = await hostView();
        expect(view.panels.length).to.be.above(0);
        expect(view.panels.filter((p) => !p.loaded).map((p) => p.title)).to.deep.equal([]);
        return view;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }

  it('shows one tile per host with its newest cpu, mem, disk and load and its state; a stopped host is offline', async () => {
    await open('');
    await page.fill('#filter', 'host-');
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET), {
      timeoutMs: 20_000,
    });
    const tileData = await page.$$eval('#tiles .tile', (nodes) =>
      nodes.map((n) => ({
        host: (n as HTMLElement).dataset.host!,
        state: (n as HTMLElement).dataset.state!,
        figures: Object.fromEntries(
          [...n.querySelectorAll('.figures > div')].map((d) => [
            (d as HTMLElement).dataset.metric!,
            d.querySelector('dd')!.textContent!.replace(/\s+/g, ' ').trim(),
          ]),
        ),
        badges: n.querySelector('.badges')!.textContent,
        spark: n.querySelector('.spark path')!.getAttribute('d') ?? '',
      })),
    );
    expect(tileData.map((t) => t.host).sort()).to.deep.equal(
      Array.from({ length: FLEET }, (_, i) => fleetHost(i)),
    );
    const byHost = new Map(tileData.map((t) => [t.host, t]));
    for (const i of LIVE) {
      const tile = byHost.get(fleetHost(i))!;
      expect(tile.state, tile.host).to.equal('live');
      const newest = newestValues(i);
      expect(tile.figures, tile.host).to.deep.equal({
        cpu: units.formatValue(newest.cpu, 'percent'),
        mem: units.formatValue(newest.mem, 'percent'),
        disk: units.formatValue(newest.disk, 'percent'),
        'load.1': units.formatValue(newest['load.1'], 'load'),
      });
      // 15 minutes of history: the sparkline is drawn.
      expect(tile.spark, tile.host).to.match(/^M[\d.]+ [\d.]+L/);
    }
    expect(byHost.get(STOPPED)!.state).to.equal('offline');
    expect(byHost.get(STALE)!.state).to.equal('stale');
    // The stopped host's last minutes are long gone from its sparkline.
    expect(byHost.get(STOPPED)!.spark).to.equal('');
    await eventually(
      async () => {
        const badges = await page.$$eval('#tiles .tile', (nodes) =>
          Object.fromEntries(
            nodes.map((n) => [
              (n as HTMLElement).dataset.host,
              n.querySelector('.badges')!.textContent,
            ]),
          ),
        );
        expect(badges[fleetHost(7)]).to.equal('1 warning');
        expect(badges[fleetHost(33)]).to.equal('1 critical');
        expect(badges[fleetHost(1)]).to.equal('');
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  });

  it('sorts by state, name, cpu, mem and disk, and filters by name and by state', async () => {
    await open('');
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET + 2));
    // Default: trouble first. Critical incidents, then the offline host, then warnings, then stale.
    await eventually(async () => {
      const first = await shownHosts();
      expect(first.slice(0, 2).sort()).to.deep.equal([fleetHost(33), fleetHost(83)]);
      expect(first[2]).to.equal(STOPPED);
      expect(first.slice(3, 5)).to.deep.equal([fleetHost(7), fleetHost(57)]);
      expect(first[5]).to.equal(STALE);
    });
    const figure = (metric: string) =>
      page.$$eval(`#tiles .tile [data-metric="${metric}"] dd`, (nodes) =>
        nodes.map((n) => Number.parseFloat(n.textContent!)),
      );
    for (const metric of ['cpu', 'mem', 'disk']) {
      await page.selectOption('#sort', metric);
      const values = (await figure(metric)).filter((v) => !Number.isNaN(v));
      expect(values.length).to.be.above(90);
      expect(values, `sorted by ${metric}`).to.deep.equal([...values].sort((a, b) => b - a));
    }
    await page.selectOption('#sort', 'name');
    const names = await shownHosts();
    expect(names).to.deep.equal([...names].sort());
    await page.click('#reverse');
    expect(await shownHosts()).to.deep.equal([...names].reverse());
    await page.click('#reverse');

    // `/` jumps to the filter from anywhere on the page.
    await page.locator('body').click({ position: { x: 5, y: 600 } });
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('filter');
    await page.keyboard.type('host-01');
    expect(await shownHosts()).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => fleetHost(10 + i)),
    );
    expect(page.url()).to.include('q=host-01');
    await page.fill('#filter', '');
    await page.click('[data-show="offline"]');
    expect(await shownHosts()).to.deep.equal([STOPPED]);
    await page.click('[data-show="incidents"]');
    expect((await shownHosts()).sort()).to.deep.equal([7, 33, 57, 83].map(fleetHost).sort());
    await page.click('[data-show="all"]');
    await page.selectOption('#sort', 'state');
  });

  it('acknowledges an incident from its row, and silences and unsilences it from the silence form', async () => {
    const host = fleetHost(7);
    await open('');
    // The page asks once for a name to sign with.
    const asked: string[] = [];
    const sign = (dialog: Dialog) => {
      asked.push(dialog.message());
      void dialog.accept('tester');
    };
    page.on('dialog', sign);
    try {
      const row = page.locator('#incidents tbody tr', { hasText: host });
      await eventually(async () => expect(await row.count()).to.equal(1), { timeoutMs: 20_000 });
      await row.getByRole('button', { name: 'Ack' }).click();
      await eventually(async () => expect(await row.textContent()).to.include('ack: tester'));
      expect(await row.getByRole('button', { name: 'Ack' }).count()).to.equal(0);
      expect(asked).to.have.length(1);
      expect(asked[0]).to.include('Your name');

      await row.getByRole('button', { name: 'Silence…' }).click();
      expect(await page.inputValue('#silence-host')).to.equal(host);
      expect(await page.inputValue('#silence-rule')).to.equal('cpu-high');
      await page.fill('#silence-comment', 'replacing a fan');
      await page.click('#silence-create');
      const silence = page.locator('#silences tbody tr');
      await eventually(async () => {
        expect(await silence.count()).to.equal(1);
        expect(await silence.textContent())
          .to.include(`host=${host} rule=cpu-high`)
          .and.include('active')
          .and.include('tester')
          .and.include('replacing a fan');
      });
      // The row says so at its next refresh.
      await eventually(async () => expect(await row.textContent()).to.include('silenced'), {
        timeoutMs: 15_000,
        intervalMs: 200,
      });
      await silence.getByRole('button', { name: 'Delete' }).click();
      await eventually(async () => expect(await silence.count()).to.equal(0));
      await eventually(async () => expect(await row.textContent()).not.to.include('silenced'), {
        timeoutMs: 15_000,
        intervalMs: 200,
      });
      // The name was kept: nothing more was asked.
      expect(asked).to.have.length(1);
    } finally {
      page.off('dialog', sign);
    }
    expect(problems).to.deep.equal([]);
  });

  it('lists open incidents above the tiles, worst first, with host, rule and since when', async () => {
    await open('');
    const rows = page.locator('#incidents tbody tr');
    await eventually(async () => expect(await rows.count()).to.equal(4), { timeoutMs: 20_000 });
    const cells = await page.$$eval('#incidents tbody tr', (trs) =>
      trs.map((tr) =>
        Object.fromEntries(
          [...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent]),
        ),
      ),
    );
    expect(cells.map((c) => c.severity)).to.deep.equal([
      'critical',
      'critical',
      'warning',
      'warning',
    ]);
    expect(
      cells
        .slice(0, 2)
        .map((c) => c.host)
        .sort(),
    ).to.deep.equal([fleetHost(33), fleetHost(83)]);
    expect(cells[0]!.rule).to.equal('disk-high');
    expect(cells[0]!.condition).to.equal('avg(disk) > 90 over 9 samples');
    expect(cells[2]!.rule).to.equal('cpu-high');
    for (const c of cells) expect(c.since).to.match(/^\d+ (s|min) ago$/);
    // On top: the incidents come before the tiles.
    const order = await page.evaluate(() =>
      document
        .getElementById('incidents-card')!
        .compareDocumentPosition(document.getElementById('tiles')!),
    );
    expect(order & 4, 'tiles follow the incidents').to.equal(4);
    mkdirSync(`${REPO}docs`, { recursive: true });
    await page.screenshot({ path: `${REPO}docs/dashboard-overview.png` });
  });

  it('opens a host from its tile with the keyboard', async () => {
    await open('#/?sort=name');
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET + 2));
    await page.locator('#tiles a.name').first().focus();
    // Five tiles a row at this width: down one row, right one tile.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    const focused = await page.evaluate(
      () => (document.activeElement!.closest('.tile') as HTMLElement).dataset.host!,
    );
    const perRow = await page.$$eval('#tiles .tile', (nodes) => {
      const top = (nodes[0] as HTMLElement).offsetTop;
      return nodes.filter((n) => (n as HTMLElement).offsetTop === top).length;
    });
    const names = await shownHosts();
    expect(focused).to.equal(names[perRow + 1]);
    await page.keyboard.press('Enter');
    await eventually(async () =>
      expect(await page.locator('#host-name').textContent()).to.equal(focused),
    );
    expect(page.url()).to.include(`#/host/${focused}`);
  });

  it('shows every group of a host’s metrics, with units on the axes and gaps as breaks', async () => {
    await open(`#/host/${FULL}`);
    await eventually(async () => expect((await hostView()).panels.length).to.be.above(20));
    await showWholePage();
    const view = await waitForAllPanels();
    expect(view.groups).to.deep.equal([
      'CPU',
      'Memory',
      'Disk',
      'Network',
      'Load',
      'Pressure',
      'GPU',
      'System',
    ]);
    const unitMarks: Record<string, RegExp> = {
      percent: / %$/,
      bytesPerSecond: / (B|KiB|MiB|GiB)\/s$/,
      perSecond: / \/s$/,
      bytes: / (B|KiB|MiB|GiB)$/,
      load: /^[\d.]+$/,
      count: /^[\d.]+k?$/,
      seconds: / (s|min|h|d)$/,
    };
    for (const panel of view.panels) {
      expect(panel.step, panel.title).to.equal('raw');
      expect(panel.yLabels.length, panel.title).to.be.above(1);
      for (const label of panel.yLabels)
        expect(label, panel.title).to.match(unitMarks[panel.unit]!);
    }
    const panel = (key: string) => view.panels.find((p) => p.key === key)!;
    expect(panel('cpu-cores').lines).to.have.length(8);
    expect(panel('cpu-states').lines).to.deep.equal(['iowait', 'irq', 'steal', 'system', 'user']);
    expect(panel('mem-used').group).to.equal('Memory');
    expect(panel('disk-sda-io').title).to.equal('sda: throughput');
    expect(panel('net-eth0').unitName).to.equal('bytes/s');
    expect(panel('pressure-io').lines).to.deep.equal(['full', 'some']);
    expect(panel('gpu').lines).to.deep.equal(['all cards', 'card 0', 'card 1']);
    // The ten silent minutes: a null inside the cpu series, with the silence on either side of it.
    const [xs, ys] = panel('cpu').data as [number[], (number | null)[]];
    const inner = ys.findIndex((v, i) => v === null && i > 0 && i < ys.length - 1);
    expect(inner).to.be.above(0);
    expect(xs[inner + 1]! - xs[inner - 1]!).to.be.above(9 * 60);
    await page.setViewportSize({ width: 1280, height: 1000 });
  });

  it('zooms every chart by dragging on any one, and resets', async () => {
    await open(`#/host/${FULL}`);
    const before = await eventually(async () => {
      const v = await hostView();
      expect(v.panels[0]?.loaded).to.equal(true);
      return v;
    });
    const over = await page.locator('[data-panel="cpu-cores"] .u-over').boundingBox();
    await page.mouse.move(over!.x + over!.width * 0.3, over!.y + over!.height / 2);
    await page.mouse.down();
    await page.mouse.move(over!.x + over!.width * 0.6, over!.y + over!.height / 2, { steps: 10 });
    await page.mouse.up();
    const zoomed = await eventually(async () => {
      const v = await hostView();
      expect(v.zoomed).to.equal(true);
      expect(v.panels.filter((p) => p.loaded).length).to.be.above(2);
      return v;
    });
    const span = (v: HostView) => v.view.to - v.view.from;
    // The dragged 30 % to 60 % of the hour: 18 minutes, starting 18 minutes in (the clock moved a little).
    expect(span(zoomed) / span(before)).to.be.closeTo(0.3, 0.02);
    expect((zoomed.view.from - before.view.from) / span(before)).to.be.closeTo(0.3, 0.02);
    // Every chart in view shows the zoomed range, not only the one dragged on.
    for (const p of zoomed.panels.filter((q) => q.loaded)) {
      expect(p.x!.min * 1000, p.title).to.be.closeTo(zoomed.view.from, 1000);
      expect(p.x!.max * 1000, p.title).to.be.closeTo(zoomed.view.to, 1000);
    }
    expect(page.url()).to.match(/from=\d+&to=\d+/);
    expect(await page.locator('#reset-zoom').isVisible()).to.equal(true);
    await page.click('#reset-zoom');
    await eventually(async () => {
      const v = await hostView();
      expect(v.zoomed).to.equal(false);
      expect(span(v)).to.be.closeTo(span(before), 1);
    });
  });

  it('takes new points live, without a reload', async () => {
    await open(`#/host/${FULL}`);
    await eventually(async () => expect((await hostView()).panels[0]?.loaded).to.equal(true));
    await eventually(async () =>
      expect(await page.locator('#live').textContent()).to.equal('live'),
    );
    const time = Date.now();
    await postSample(
      receiver.url,
      { ...everyMetric(time), cpu: 88.8 },
      { 'Loadstar-Host': FULL, 'Loadstar-Time': String(time), 'Loadstar-Interval': '5' },
    );
    await eventually(async () => {
      const cpu = (await hostView()).panels.find((p) => p.key === 'cpu')!;
      const at = cpu.data[0]!.indexOf(time / 1000);
      expect(at).to.be.above(0);
      expect(cpu.data[1]![at]).to.equal(88.8);
    });
    await showWholePage();
    await waitForAllPanels();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${REPO}docs/dashboard-host.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 1000 });
  });

  it('opens the link of an alert (#host=…&metric=…) on that host’s page, at that metric’s chart', async () => {
    await open(`#host=${FULL}&incident=0123456789abcdef&metric=mem`);
    await eventually(async () =>
      expect(await page.locator('#host-name').textContent()).to.equal(FULL),
    );
    expect(page.url()).to.include(`#/host/${FULL}`);
    const focused = page.locator('.panel.focus');
    await eventually(async () => expect(await focused.count()).to.equal(1));
    const where = await focused.evaluate((panel) => ({
      group: (panel.closest('.metric-group') as HTMLElement).dataset.group,
      top: panel.getBoundingClientRect().top,
      bottom: panel.getBoundingClientRect().bottom,
      height: window.innerHeight,
    }));
    expect(where.group).to.equal('Memory');
    expect(where.top).to.be.at.least(0);
    expect(where.bottom).to.be.at.most(where.height);
  });

  it('lays out a metric the host starts to report, in its group', async () => {
    await open(`#/host/${FULL}`);
    await eventually(async () => expect((await hostView()).panels[0]?.loaded).to.equal(true));
    expect((await hostView()).panels.map((p) => p.key)).to.not.include('net-eth9');
    await postSample(
      receiver.url,
      {
        ...everyMetric(Date.now()),
        'net.eth9.rx_bytes_per_s': 2048,
        'net.eth9.tx_bytes_per_s': 512,
      },
      { 'Loadstar-Host': FULL, 'Loadstar-Interval': '5' },
    );
    const panel = await eventually(async () => {
      const found = (await hostView()).panels.find((p) => p.key === 'net-eth9');
      expect(found).to.not.equal(undefined);
      return found!;
    });
    expect(panel.group).to.equal('Network');
    expect(panel.title).to.equal('eth9: throughput');
    expect(panel.lines).to.deep.equal(['received', 'sent']);
  });

  it('reads 30 days as one-minute averages with a min–max band, and a day as raw samples', async () => {
    await open(`#/host/${MONTH}?range=30d`);
    const cpu = await eventually(
      async () => {
        const p = (await hostView()).panels.find((q) => q.key === 'cpu')!;
        expect(p.loaded).to.equal(true);
        return p;
      },
      { timeoutMs: 20_000 },
    );
    expect(cpu.step).to.equal('1m');
    // Columns: time, then average, min and max of the one line.
    expect(cpu.data).to.have.length(4);
    const xs = cpu.data[0] as number[];
    expect(xs.length).to.be.within(30 * 1440 - 2, 30 * 1440 + 2);
    expect(xs[1]! - xs[0]!).to.equal(60);
    expect(xs.at(-1)! - xs[0]!).to.be.above(30 * 86_400 - 180);
    const [probeTime, probeCpu] = monthProbe;
    const at = xs.indexOf(probeTime / 1000);
    expect(at, 'the minute 20 days ago').to.be.above(0);
    expect([cpu.data[1]![at], cpu.data[2]![at], cpu.data[3]![at]]).to.deep.equal([
      probeCpu,
      probeCpu,
      probeCpu,
    ]);
    expect(await page.locator('#resolution').textContent()).to.include('one-minute averages');
    await page.click('[data-range="24h"]');
    await eventually(async () => {
      const p = (await hostView()).panels.find((q) => q.key === 'cpu')!;
      expect(p.loaded).to.equal(true);
      expect(p.step).to.equal('raw');
      expect(p.data).to.have.length(2);
    });
  });

  it('compares one metric of hosts picked on the fleet page on one chart', async () => {
    await open('#/?sort=name');
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET + 2));
    for (const i of [1, 2, 3]) await page.check(`[aria-label="compare ${fleetHost(i)}"]`);
    expect(await page.locator('#compare-link').textContent()).to.equal('Compare 3 hosts');
    await page.click('#compare-link');
    await page.fill('#compare-metric', 'mem');
    await page.press('#compare-metric', 'Enter');
    const chart = await eventually(async () => {
      const d = (await page.evaluate(() =>
        (globalThis as unknown as { loadstar: { describe(): unknown } }).loadstar.describe(),
      )) as { metric: string; chart: PanelView };
      expect(d.metric).to.equal('mem');
      expect(d.chart.data.length).to.equal(4);
      expect(d.chart.data[1]!.filter((v) => typeof v === 'number').length).to.be.above(50);
      return d.chart;
    });
    expect(chart.lines).to.deep.equal([1, 2, 3].map(fleetHost));
    expect(chart.unitName).to.equal('%');
    // Each host's newest mem is its line's last value.
    for (const i of [1, 2, 3]) {
      const ys = chart.data[i]!.filter((v) => typeof v === 'number');
      expect(ys.at(-1)).to.equal(newestValues(i).mem);
    }
    expect(page.url()).to.include('hosts=host-001,host-002,host-003').and.include('metric=mem');
  });

  it('pauses and resumes a host’s recording from its page, and the fleet shows it', async () => {
    const host = fleetHost(5);
    await open(`#/host/${host}`);
    await eventually(async () =>
      expect(await page.locator('#recording-host').textContent()).to.equal('recording'),
    );
    await page.click('#pause-host');
    await eventually(async () =>
      expect(await page.locator('#recording-host').textContent()).to.equal('paused'),
    );
    await open(`#/?q=${host}`);
    await eventually(async () =>
      expect(await page.locator(`.tile[data-host="${host}"] .badges`).textContent()).to.equal(
        'paused',
      ),
    );
    await open(`#/host/${host}`);
    await page.click('#resume-host');
    await eventually(async () =>
      expect(await page.locator('#recording-host').textContent()).to.equal('recording'),
    );
  });

  /**
   * Contrast ratios (WCAG) of the page's kinds of text against what is behind
   * them. Sent as text: the test's compiler would wrap named functions in a
   * helper the page does not have.
   */
  const contrasts = () =>
    page.evaluate(`(() => {
      const rgb = (text) => (text.match(/[\\d.]+/g) ?? []).map(Number);
      const luminance = ([r, g, b]) => {
        const c = [r, g, b].map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      };
      const behind = (node) => {
        for (let n = node; n; n = n.parentElement) {
          const bg = rgb(getComputedStyle(n).backgroundColor);
          if (bg.length === 3 || (bg.length === 4 && bg[3] > 0.9)) return bg;
        }
        return rgb(getComputedStyle(document.body).backgroundColor);
      };
      const out = {};
      for (const selector of ${JSON.stringify([
        'body',
        '.brand',
        '.main-nav a',
        '#live',
        '.status',
        '.tile .name',
        '.tile dt',
        '.tile dd',
        '.tile footer',
        '.tile.state-offline dd',
        '.chip.bad',
        '.chip.warn',
        '.chip.ok',
        '#incidents th',
        '#incidents td a',
        'button',
        'footer.keys',
      ])}) {
        const node = document.querySelector(selector);
        if (!node) continue;
        const a = luminance(rgb(getComputedStyle(node).color));
        const b = luminance(behind(node));
        out[selector] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      }
      return out;
    })()`) as Promise<Record<string, number>>;

  it('switches to dark mode and keeps the choice, with readable contrast in both themes', async () => {
    await open('');
    await page.evaluate(() => localStorage.removeItem('loadstar.theme'));
    await page.reload();
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET + 2));
    await eventually(async () =>
      expect(await page.locator('#incidents tbody tr').count()).to.equal(4),
    );
    const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
    expect(await theme()).to.equal('light');
    const light = await contrasts();
    expect(Object.keys(light)).to.have.length.above(14);
    for (const [selector, ratio] of Object.entries(light))
      expect(ratio, `light: ${selector}`).to.be.at.least(4.5);
    await page.click('#theme');
    expect(await theme()).to.equal('dark');
    expect(await page.evaluate(() => localStorage.getItem('loadstar.theme'))).to.equal('dark');
    const dark = await contrasts();
    for (const [selector, ratio] of Object.entries(dark))
      expect(ratio, `dark: ${selector}`).to.be.at.least(4.5);
    // Kept across a reload.
    await page.reload();
    expect(await theme()).to.equal('dark');
    await open(`#/host/${FULL}`);
    await eventually(async () => expect((await hostView()).panels[0]?.loaded).to.equal(true));
    await showWholePage();
    await waitForAllPanels();
    await page.screenshot({
      path: `${REPO}docs/dashboard-host-dark.png`,
      clip: { x: 0, y: 0, width: 1280, height: 1600 },
    });
    await page.setViewportSize({ width: 1280, height: 1000 });
    // `t` flips back; a choice equal to the system's is forgotten, so the page follows the system again.
    await page.keyboard.press('t');
    expect(await theme()).to.equal('light');
    expect(await page.evaluate(() => localStorage.getItem('loadstar.theme'))).to.equal(null);
    // The system's preference rules while no choice is kept.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    expect(await theme()).to.equal('dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    expect(await theme()).to.equal('light');
  });

  it('fits a phone’s width: one column of tiles, charts within the screen, nothing to scroll sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open('');
    await eventually(async () => expect(await tiles().count()).to.equal(FLEET + 2));
    const layout = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      lefts: [...document.querySelectorAll('#tiles .tile')].map(
        (n) => (n as HTMLElement).getBoundingClientRect().left,
      ),
      widest: Math.max(
        ...[...document.querySelectorAll('#tiles .tile')].map(
          (n) => (n as HTMLElement).getBoundingClientRect().right,
        ),
      ),
    }));
    expect(layout.overflow).to.be.at.most(0);
    expect(new Set(layout.lefts).size).to.equal(1);
    expect(layout.widest).to.be.at.most(390);
    await page.screenshot({ path: `${REPO}docs/dashboard-phone.png` });
    await open(`#/host/${FULL}`);
    await eventually(async () => expect((await hostView()).panels[0]?.loaded).to.equal(true));
    const charts = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      right: Math.max(
        ...[...document.querySelectorAll('.panel canvas')].map(
          (c) => c.getBoundingClientRect().right,
        ),
      ),
    }));
    expect(charts.overflow).to.be.at.most(0);
    expect(charts.right).to.be.at.most(390);
    await page.setViewportSize({ width: 1280, height: 1000 });
  });
});
