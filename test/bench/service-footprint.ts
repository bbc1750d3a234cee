// What each service keeps in memory when it has nothing to do: built, connected
// to NATS and Redis, ready, with no sample posted yet. The resident set is read
// from /proc every half second, just after start-up and again once idle; medians
// are quoted. V8 gives start-up's heap back only when its memory reducer runs,
// which was seen 8 to 20 s after ready: the idle reading starts 30 s after ready.
import { median } from './percentile.ts';
import { type Resident, residentBytes } from './proc-stat.ts';
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

/** Each service's median resident set, and of it what is not shared, over `windowMs`. */
async function readWindow(
  services: Record<string, Child>,
  windowMs: number,
): Promise<Map<string, Resident>> {
  const readings = new Map(Object.keys(services).map((name) => [name, [] as Resident[]]));
  for (let elapsed = 0; elapsed < windowMs; elapsed += EVERY_MS) {
    for (const [name, child] of Object.entries(services))
      readings.get(name)!.push(residentBytes(child.pid));
    await pause(EVERY_MS);
  }
  return new Map(
    [...readings].map(([name, read]) => [
      name,
      { rss: median(read.map((r) => r.rss)), anonymous: median(read.map((r) => r.anonymous)) },
    ]),
  );
}

export async function measureIdle(loadstar: Loadstar): Promise<IdleFigures[]> {
  const services: Record<string, Child> = {
    receiver: loadstar.receiver,
    store: loadstar.store,
    gateway: loadstar.gateway,
  };
  const ready = Date.now();
  const start = await readWindow(services, START_WINDOW_MS);
  await pause(ready + IDLE_AFTER_MS - Date.now());
  const idle = await readWindow(services, WINDOW_MS);
  return Object.keys(services).map((service) => ({
    service,
    startRssMedianBytes: start.get(service)!.rss,
    rssMedianBytes: idle.get(service)!.rss,
    anonymousMedianBytes: idle.get(service)!.anonymous,
  }));
}
