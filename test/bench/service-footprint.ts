// What each service keeps in memory when it has nothing to do: built, connected
// to NATS and Redis, ready, with no sample posted yet. The resident set is read
// from /proc every half second once the services have settled (start-up's
// garbage is collected some 10 s after ready); the median is quoted.
import { median } from './percentile.ts';
import { rssBytes } from './proc-stat.ts';
import type { Child } from './processes.ts';
import type { Loadstar } from './services.ts';

const SETTLE_MS = 15_000;
const WINDOW_MS = 5_000;
const EVERY_MS = 500;

export interface IdleFigures {
  service: string;
  rssMedianBytes: number;
}

export async function measureIdle(loadstar: Loadstar): Promise<IdleFigures[]> {
  const services: Record<string, Child> = {
    receiver: loadstar.receiver,
    store: loadstar.store,
    gateway: loadstar.gateway,
  };
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const readings = new Map(Object.keys(services).map((name) => [name, [] as number[]]));
  for (let elapsed = 0; elapsed < WINDOW_MS; elapsed += EVERY_MS) {
    for (const [name, child] of Object.entries(services))
      readings.get(name)!.push(rssBytes(child.pid));
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
  return [...readings].map(([service, rss]) => ({ service, rssMedianBytes: median(rss) }));
}
