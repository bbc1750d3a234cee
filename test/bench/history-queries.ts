// History query figures: seeds one host with 30 days of samples at one a minute
// and the last 24 hours at one every 5 s, through the receiver's batch endpoint
// (the real fold path), then times the dashboard's three kinds of query.
import { summarize } from './percentile.ts';

export interface HistoryFigures {
  name: string;
  /** The ceiling for the p50. */
  targetMs: number;
  points: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

const HOST = 'bench-history';
const DAY_MS = 86_400_000;

/** Posts the seed samples, oldest first, in batches of 1,000; returns how many were accepted. */
async function seed(receiverUrl: string, now: number): Promise<number> {
  const times: number[] = [];
  for (let t = now - 30 * DAY_MS; t < now - DAY_MS; t += 60_000) times.push(t);
  for (let t = now - DAY_MS; t < now - 5_000; t += 5_000) times.push(t);
  const batchUrl = `${receiverUrl.replace(/\/+$/, '')}/batch`;
  let accepted = 0;
  for (let i = 0; i < times.length; i += 1_000) {
    const samples = times.slice(i, i + 1_000).map((time, j) => ({
      id: `h${i + j}`,
      time,
      interval: time < now - DAY_MS ? 60 : 5,
      // At the precision an agent sends: two decimals for a percentage.
      metrics: {
        cpu: Math.round((50 + 40 * Math.sin(time / 3_600_000)) * 100) / 100,
        mem: 30 + (j % 10),
      },
    }));
    const res = await fetch(batchUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Loadstar-Host': HOST },
      body: JSON.stringify({ samples }),
    });
    if (res.status !== 200) throw new Error(`seeding history: ${res.status} ${await res.text()}`);
    accepted += ((await res.json()) as { accepted: number }).accepted;
  }
  return accepted;
}

async function time(
  url: string,
  requests: number,
  deadline: number,
): Promise<Omit<HistoryFigures, 'name' | 'targetMs'>> {
  const latencies: number[] = [];
  let points = 0;
  for (let i = 0; i < requests && Date.now() < deadline; i++) {
    const started = performance.now();
    const res = await fetch(url);
    const bytes = await res.arrayBuffer();
    // Until the answer's last byte: the client's own parsing is not the query's time.
    latencies.push(performance.now() - started);
    const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as { points?: unknown[] };
    if (res.status !== 200 || !body.points) throw new Error(`${url} answered ${res.status}`);
    points = body.points.length;
  }
  const summary = summarize(Float64Array.from(latencies));
  return { points, p50Ms: summary.p50, p99Ms: summary.p99, requests: latencies.length };
}

export async function measureHistory(
  receiverUrl: string,
  gatewayUrl: string,
  requests: number,
  maxMs: number,
): Promise<{ seeded: number; figures: HistoryFigures[] }> {
  const now = Date.now();
  const seeded = await seed(receiverUrl, now);
  const deadline = Date.now() + maxMs;
  const url = (from: number, step: string) =>
    `${gatewayUrl}api/v1/history?metric=cpu&host=${HOST}&from=${from}&to=${now}&step=${step}`;
  const figures: HistoryFigures[] = [];
  for (const [name, from, step, targetMs] of [
    ['1 hour raw', now - 3_600_000, 'raw', 2],
    ['24 hours raw', now - DAY_MS, 'raw', 15],
    ['30 days 1m', now - 30 * DAY_MS, '1m', 30],
  ] as const) {
    figures.push({ name, targetMs, ...(await time(url(from, step), requests, deadline)) });
  }
  return { seeded, figures };
}
