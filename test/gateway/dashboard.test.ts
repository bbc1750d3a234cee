// The dashboard in a real headless Chromium: it loads without console errors,
// draws both charts with a visible break where no data arrived, shows a pause
// in the status, and takes new points live. Saves docs/dashboard.png.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { RunningGateway } from '../../gateway/service.ts';
import { DEFAULT_RULES_SOURCE } from '../../receiver/rules/rules.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import type { RunningStore } from '../../receiver/store/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, postSample, receiverOn, rulesOn, storeOn } from '../harness/pipeline.ts';
import { REPO } from '../harness/processes.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

type ChartData = (number | null)[][];

describe('dashboard in Chromium', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let store: RunningStore;
  let rules: RunningRules;
  let gateway: RunningGateway;
  let browser: Browser;
  let page: Page;
  let rulesDir: string;
  const problems: string[] = [];
  const host = 'web-01';

  const post = (time: number, cpu: number) =>
    postSample(
      receiver.url,
      { cpu, mem: 40 + (cpu % 7), 'load.1': cpu / 50 },
      {
        'Loadstar-Host': host,
        'Loadstar-Time': String(time),
        'Loadstar-Interval': '5',
      },
    );

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    // The default rules but host-down: these hosts post once and stop, which is not what the page shows here.
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
    // 50 minutes of samples every 5 s, with nothing from 30 to 20 minutes ago (the agent was stopped).
    const now = Date.now();
    const start = now - 50 * 60_000;
    const posts: Promise<unknown>[] = [];
    for (let t = start; t < now - 5_000; t += 5_000) {
      const minutesAgo = (now - t) / 60_000;
      if (minutesAgo < 30 && minutesAgo > 20) continue;
      const wave = 35 + 25 * Math.sin(t / 400_000) + 10 * Math.sin(t / 37_000);
      posts.push(post(t, Math.round(wave * 10) / 10));
    }
    await Promise.all(posts);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(gateway.url.href);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([receiver.stop(), store.stop(), gateway.stop(), rules.stop()]);
    removeDir(rulesDir);
    for (const s of [nats, redis]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  const chartData = (which: 'rawData' | 'avgData') =>
    page.evaluate(
      (name) =>
        (globalThis as unknown as Record<string, Record<string, () => ChartData>>).loadstar![
          name
        ]!(),
      which,
    );

  it('loads with no console errors and draws both charts, with a break where no data arrived', async () => {
    await eventually(async () =>
      expect((await chartData('rawData'))[0]!.length).to.be.greaterThan(100),
    );
    await eventually(async () =>
      expect((await chartData('avgData'))[1]!.some((v) => v !== null)).to.equal(true),
    );
    const raw = await chartData('rawData');
    const avg = await chartData('avgData');
    // The ten silent minutes: one null in the raw series, ten null minutes in the averages.
    expect(raw[1]!.filter((v) => v === null)).to.have.length.at.least(1);
    // The null inside the series (not the one marking the empty start of the range) spans the silence.
    const inner = raw[1]!.findIndex((v, i) => v === null && i > 0 && i < raw[1]!.length - 1);
    expect(raw[0]![inner + 1]! - raw[0]![inner - 1]!).to.be.greaterThan(9 * 60);
    expect(avg[1]!.filter((v) => v === null).length).to.be.at.least(9);
    expect(await page.locator('#raw-chart canvas').count()).to.equal(1);
    expect(await page.locator('#avg-chart canvas').count()).to.equal(1);
    expect(await page.locator('#host').inputValue()).to.equal(host);
    expect(await page.locator('#metric').inputValue()).to.equal('cpu');
    expect(problems).to.deep.equal([]);
  });

  it('shows each host’s state, and a pause in the status', async () => {
    const row = page.locator(`#hosts tr[data-host="${host}"]`);
    await eventually(async () => expect(await row.textContent()).to.include('recording'));
    await page.click('#pause-host');
    await eventually(async () =>
      expect(await page.locator('#recording-host').textContent()).to.equal('paused'),
    );
    await eventually(async () => expect(await row.textContent()).to.include('paused'));
    await page.click('#resume-host');
    await eventually(async () =>
      expect(await page.locator('#recording-host').textContent()).to.equal('recording'),
    );
    expect(problems).to.deep.equal([]);
  });

  it('lists open incidents at the top', async () => {
    // Another host runs hot: cpu above 90 on average over 3 samples opens an incident.
    const now = Date.now();
    for (const [i, cpu] of [93, 97, 99].entries()) {
      await postSample(
        receiver.url,
        { cpu },
        {
          'Loadstar-Host': 'db-01',
          'Loadstar-Time': String(now - 3000 + i * 1000),
          'Loadstar-Interval': '1',
        },
      );
    }
    await eventually(
      async () => expect(await page.locator('#incidents-card').isVisible()).to.equal(true),
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const row = page.locator('#incidents tbody tr');
    expect(await row.count()).to.equal(1);
    const text = await row.textContent();
    expect(text).to.include('db-01').and.include('cpu-high').and.include('avg(cpu) > 90');
    expect(problems).to.deep.equal([]);
  });

  it('acknowledges an incident from its row, and silences and unsilences it from the silence form', async () => {
    // The page asks once for a name to sign with.
    page.on('dialog', (dialog) => void dialog.accept('tester'));
    const row = page.locator('#incidents tbody tr', { hasText: 'db-01' });
    await row.getByRole('button', { name: 'Ack' }).click();
    await eventually(async () => expect(await row.textContent()).to.include('ack: tester'));
    expect(await row.getByRole('button', { name: 'Ack' }).count()).to.equal(0);

    await row.getByRole('button', { name: 'Silence…' }).click();
    expect(await page.inputValue('#silence-host')).to.equal('db-01');
    expect(await page.inputValue('#silence-rule')).to.equal('cpu-high');
    await page.fill('#silence-comment', 'replacing a fan');
    await page.click('#silence-create');
    const silence = page.locator('#silences tbody tr');
    await eventually(async () => {
      expect(await silence.count()).to.equal(1);
      expect(await silence.textContent())
        .to.include('host=db-01 rule=cpu-high')
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
    expect(problems).to.deep.equal([]);
  });

  it('draws new points live, without a reload', async () => {
    await eventually(async () =>
      expect(await page.locator('#live').textContent()).to.equal('live'),
    );
    const value = 88.8;
    const time = Date.now();
    await post(time, value);
    await eventually(async () => {
      const raw = await chartData('rawData');
      expect(raw[0]!.at(-1)).to.equal(time / 1000);
      expect(raw[1]!.at(-1)).to.equal(value);
    });
    // The 1-minute chart catches up on its next refresh; wait for it so the picture shows both.
    await eventually(
      async () => expect((await chartData('avgData'))[1]!.at(-1)).to.not.equal(null),
      {
        timeoutMs: 20_000,
        intervalMs: 500,
      },
    );
    mkdirSync(`${REPO}docs`, { recursive: true });
    await page.screenshot({ path: `${REPO}docs/dashboard.png`, fullPage: true });
    expect(problems).to.deep.equal([]);
  });
});
