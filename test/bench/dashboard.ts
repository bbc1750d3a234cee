// Dashboard figures (`npm run bench -- --dashboard`): the fleet overview's time
// to first render in Chromium at 100 hosts, and its one request per refresh
// (GET api/v1/summary) at 100 and 1,000 hosts. The fleet's history goes through
// the receiver's batch endpoint (the real fold path), an hour of it per host so
// the sparkline reads hour blocks as full as they get.
import { chromium } from 'playwright-core';
import { fleetHistory, postBatch } from '../harness/fleet.ts';
import { summarize } from './percentile.ts';
import type { Processes } from './processes.ts';
import { startLoadstar } from './services.ts';
import { count, ms, renderTable } from './table.ts';

export interface DashboardPlan {
  /** Minutes of history per host, at one sample every 10 s. */
  historyMinutes: number;
  /** Timed summary requests per fleet size. */
  summaryRequests: number;
  /** Cold page loads timed. */
  pageLoads: number;
}

const INTERVAL_S = 10;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

interface Timed {
  p50: number;
  p99: number;
  count: number;
}

async function seed(receiverUrl: string, from: number, to: number, minutes: number) {
  const indexes = Array.from({ length: to - from }, (_, i) => from + i);
  // One batch of samples per slice of hosts keeps each request at 1,000 samples or fewer.
  for (let i = 0; i < indexes.length; i += 50) {
    await postBatch(
      receiverUrl,
      fleetHistory(indexes.slice(i, i + 50), { intervalS: INTERVAL_S, minutes }, Date.now()),
    );
  }
}

/** Sequential summary requests, each read to its end; after three untimed ones. */
async function timeSummary(
  gatewayUrl: string,
  hosts: number,
  requests: number,
): Promise<Timed & { bytes: number }> {
  const url = `${gatewayUrl}api/v1/summary`;
  let bytes = 0;
  const latencies: number[] = [];
  for (let i = -3; i < requests; i++) {
    const started = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    if (i >= 0) latencies.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { hosts: unknown[] };
    if (parsed.hosts.length !== hosts)
      throw new Error(`${url} listed ${parsed.hosts.length} hosts, not ${hosts}`);
    bytes = body.byteLength;
  }
  const s = summarize(Float64Array.from(latencies));
  return { p50: s.p50, p99: s.p99, count: s.count, bytes };
}

/**
 * Cold loads of the overview in a fresh browser context each: from navigation
 * to the first frame with the tiles in it (the page marks it).
 */
async function timeFirstRender(gatewayUrl: string, loads: number, tiles: number): Promise<Timed> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  const latencies: number[] = [];
  try {
    for (let i = -1; i < loads; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      const page = await context.newPage();
      await page.goto(gatewayUrl);
      const rendered = await page.waitForFunction(
        () => performance.getEntriesByName('loadstar:overview-rendered')[0]?.startTime,
        undefined,
        { timeout: 30_000 },
      );
      const shown = await page.locator('#tiles .tile').count();
      if (shown !== tiles) throw new Error(`the overview showed ${shown} tiles, not ${tiles}`);
      if (i >= 0) latencies.push((await rendered.jsonValue()) as number);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const s = summarize(Float64Array.from(latencies));
  return { p50: s.p50, p99: s.p99, count: s.count };
}

export async function measureDashboard(
  processes: Processes,
  plan: DashboardPlan,
  say: (message: string) => void,
): Promise<string> {
  say('dashboard: starting nats-server, redis-server, receiver, store and gateway');
  const servers = await processes.startServers();
  const loadstar = await startLoadstar(processes, servers);
  const started = Date.now();
  say(
    `dashboard: seeding 100 hosts with ${plan.historyMinutes} minutes at one sample every ${INTERVAL_S} s`,
  );
  await seed(loadstar.receiverUrl, 0, 100, plan.historyMinutes);
  say(`dashboard: ${plan.pageLoads} cold page loads at 100 hosts`);
  const render100 = await timeFirstRender(loadstar.gatewayUrl, plan.pageLoads, 100);
  const summary100 = await timeSummary(loadstar.gatewayUrl, 100, plan.summaryRequests);
  say('dashboard: seeding 900 hosts more');
  await seed(loadstar.receiverUrl, 100, 1000, plan.historyMinutes);
  const seededS = (Date.now() - started) / 1000;
  say(`dashboard: ${plan.summaryRequests} summary requests at 1,000 hosts`);
  const summary1000 = await timeSummary(loadstar.gatewayUrl, 1000, plan.summaryRequests);
  // A page shows 120 tiles whatever the fleet: the first render at 1,000 hosts differs by the answer's size.
  const render1000 = await timeFirstRender(loadstar.gatewayUrl, plan.pageLoads, 120);
  const samples = 1000 * (plan.historyMinutes * (60 / INTERVAL_S) + 1);
  const row = (label: string, t: Timed, note: string) => [
    label,
    `${ms(t.p50)} / ${ms(t.p99)} ms`,
    count(t.count),
    note,
  ];
  return renderTable(
    ['dashboard (fleet overview)', 'p50 / p99', 'runs', ''],
    [
      row(
        'first render, 100 hosts (cold Chromium page)',
        render100,
        'navigation to the first frame with tiles',
      ),
      row('first render, 1,000 hosts (120 tiles a page)', render1000, ''),
      row('GET api/v1/summary, 100 hosts', summary100, `${count(summary100.bytes / 1024)} KB`),
      row('GET api/v1/summary, 1,000 hosts', summary1000, `${count(summary1000.bytes / 1024)} KB`),
    ],
  ).concat(
    `\n(${count(samples)} samples seeded in ${seededS.toFixed(0)} s: 4 metrics every ${INTERVAL_S} s, ${plan.historyMinutes} minutes per host)`,
  );
}
