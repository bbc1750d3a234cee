// What the agent costs the machine it watches: producer/main.ts run as in
// production at a given INTERVAL, posting to the bench's receiver; after a
// warm-up, its CPU share over a window and its resident memory sampled each second.
import { median } from './percentile.ts';
import { cpuSeconds, rssBytes } from './proc-stat.ts';
import type { Processes } from './processes.ts';

export interface ProducerFigures {
  intervalSeconds: number;
  /** CPU time over wall time in the window, percent of one core. */
  cpuPercent: number;
  rssMedianBytes: number;
  rssMaxBytes: number;
  windowMs: number;
  /** Samples of its host the gateway counts at the end: proof it was really delivering. */
  samplesStored: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureProducer(
  processes: Processes,
  urls: { receiverUrl: string; gatewayUrl: string },
  intervalSeconds: number,
  timing: { warmupMs: number; windowMs: number },
): Promise<ProducerFigures> {
  const host = `bench-producer-${intervalSeconds}s`;
  const child = processes.startNode(`producer ${intervalSeconds}s`, 'producer/main.ts', {
    RECEIVER_URL: urls.receiverUrl,
    INTERVAL: String(intervalSeconds),
    SPOOL_DIR: processes.tempDir('spool'),
    HOST: host,
  });
  const alive = () => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`producer exited during the bench:\n${child.tail()}`);
    }
  };
  try {
    await sleep(timing.warmupMs);
    alive();
    const cpuBefore = cpuSeconds(child.pid);
    const started = performance.now();
    const rss: number[] = [];
    for (let s = 0; s < Math.ceil(timing.windowMs / 1000); s++) {
      await sleep(Math.max(0, started + (s + 1) * 1000 - performance.now()));
      alive();
      rss.push(rssBytes(child.pid));
    }
    const windowMs = performance.now() - started;
    const cpu = cpuSeconds(child.pid) - cpuBefore;
    return {
      intervalSeconds,
      cpuPercent: (cpu / (windowMs / 1000)) * 100,
      rssMedianBytes: median(rss),
      rssMaxBytes: Math.max(...rss),
      windowMs,
      samplesStored: await storedSamples(urls.gatewayUrl, host),
    };
  } finally {
    await processes.stop(child);
  }
}

async function storedSamples(gatewayUrl: string, host: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}api/v1/hosts`);
  const body = (await res.json()) as { hosts?: { host: string; samples: number }[] };
  return body.hosts?.find((h) => h.host === host)?.samples ?? 0;
}
