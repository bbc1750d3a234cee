// What each service keeps in memory when it has nothing to do: built, connected
// to NATS and Redis, ready, with no sample posted yet. The resident set is read
// from /proc every half second, just after start-up and again once idle; medians
// are quoted. V8 gives start-up's heap back only when its memory reducer runs,
// which was seen 8 to 20 s after ready: the idle reading starts 30 s after ready.
import { median } from './percentile.ts';
import { anonymousRssBytes, rssBytes } from './proc-stat.ts';
import type { Child } from './processes.ts';
import type { Loadstar } from './services.ts';

const IDLE_AFTER_MS = 30_000;
const WINDOW_MS = 5_000;
const START_WINDOW_MS = 2_000;
const EVERY_MS = 500;

export interface IdleFigures {
  service: string;
  /** In the first two seconds after ready. */
  startRssMedianBytes: number;
  rssMedianBytes: number;
  /** Of rssMedianBytes, what is not file pages (the node binary, shared by every Node process). */
  anonymousMedianBytes: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Medians of each reading of each service over `windowMs`. */
async function readWindow(
  services: Record<string, Child>,
  windowMs: number,
  read: ((pid: number) => number)[],
): Promise<Map<string, number[]>> {
  const readings = new Map(
    Object.keys(services).map((name) => [name, read.map(() => [] as number[])]),
  );
  for (let elapsed = 0; elapsed < windowMs; elapsed += EVERY_MS) {
    for (const [name, child] of Object.entries(services)) {
      const lists = readings.get(name)!;
      read.forEach((reading, i) => {
        lists[i]!.push(reading(child.pid));
      });
    }
    await pause(EVERY_MS);
  }
  return new Map([...readings].map(([name, lists]) => [name, lists.map(median)]));
}

export async function measureIdle(loadstar: Loadstar): Promise<IdleFigures[]> {
  const services: Record<string, Child> = {
    receiver: loadstar.receiver,
    store: loadstar.store,
    gateway: loadstar.gateway,
  };
  const ready = Date.now();
  const start = await readWindow(services, START_WINDOW_MS, [rssBytes]);
  await pause(ready + IDLE_AFTER_MS - Date.now());
  const idle = await readWindow(services, WINDOW_MS, [rssBytes, anonymousRssBytes]);
  return Object.keys(services).map((service) => ({
    service,
    startRssMedianBytes: start.get(service)![0]!,
    rssMedianBytes: idle.get(service)![0]!,
    anonymousMedianBytes: idle.get(service)![1]!,
  }));
}
