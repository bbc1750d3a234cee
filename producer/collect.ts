// Collections: every due source at once, each within its own timeout, merged
// into one sample per host (the one place that merges). A source that fails,
// hangs or returns garbage is logged and counted; the others still report, on time.
import type { Log } from '../deploy/runtime/log.ts';
import {
  checkHost,
  checkMetricName,
  type Metrics,
  type Sample,
  type SampleIds,
} from '../proto/sample.ts';
import type { PartialRecord, Source } from './sources/source.ts';

export interface SourceFailures {
  inc(labels: { source: string }): void;
}

/** Failures per source name since start: the agent has no /metrics of its own to count them in. */
export class SourceFailureCounts implements SourceFailures {
  private readonly counts = new Map<string, number>();

  inc({ source }: { source: string }): void {
    this.counts.set(source, (this.counts.get(source) ?? 0) + 1);
  }

  /** A copy, source name -> failures. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/**
 * Seconds between two polls of a source as they happen: sources are polled on
 * collection ticks only, so a source's own interval rounds up to whole INTERVALs.
 */
export function pollInterval(source: Source, intervalSeconds: number): number {
  if (source.intervalSeconds === undefined) return intervalSeconds;
  const tickMs = Math.round(intervalSeconds * 1000);
  const wantedMs = Math.round(source.intervalSeconds * 1000);
  return (Math.max(1, Math.ceil(wantedMs / tickMs)) * tickMs) / 1000;
}

/**
 * The sources to poll on `tick` (epoch ms, a multiple of the interval): those
 * never polled yet and those whose interval has passed since their last poll,
 * which is recorded in `lastPolls`.
 */
export function dueSources(
  sources: readonly Source[],
  tick: number,
  intervalSeconds: number,
  lastPolls: Map<Source, number>,
): Source[] {
  return sources.filter((source) => {
    const last = lastPolls.get(source);
    const pollMs = Math.round(pollInterval(source, intervalSeconds) * 1000);
    if (last !== undefined && tick - last < pollMs) return false;
    lastPolls.set(source, tick);
    return true;
  });
}

/** One collect() within `timeoutMs`, even from a source that ignores its signal. */
async function collectWithin(
  source: Source,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<PartialRecord[]> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = stop ? AbortSignal.any([timeout, stop]) : timeout;
  let onAbort = () => {};
  const timedOut = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(new Error(timeout.aborted ? `no answer within ${timeoutMs} ms (timeout)` : 'stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([source.collect(signal), timedOut]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Polls one source; a failure is counted and logged, and yields no records. */
async function pollSource(
  source: Source,
  timeoutMs: number,
  log: Log,
  failures?: SourceFailures,
  stop?: AbortSignal,
): Promise<PartialRecord[]> {
  try {
    return await collectWithin(source, source.timeoutMs ?? timeoutMs, stop);
  } catch (err) {
    if (stop?.aborted) return [];
    failures?.inc({ source: source.name });
    log.warn('source failed', { source: source.name, error: (err as Error).message });
    return [];
  }
}

/**
 * Merges what sources reported into one sample per host. Each sample declares
 * as its interval the longest poll interval of the sources that have reported
 * its host (remembered in `hostIntervals` across collections, so it does not
 * flip between ticks): a host whose disk comes from a source polled every
 * minute must not look stale, or full of gaps, between two polls.
 */
function mergeRecords(
  results: readonly { source: Source; records: readonly PartialRecord[] }[],
  time: number,
  intervalSeconds: number,
  ids: SampleIds,
  log: Log,
  failures: SourceFailures | undefined,
  hostIntervals: Map<string, number>,
): Sample[] {
  const byHost = new Map<string, Metrics>();
  for (const { source, records } of results) {
    const declared = pollInterval(source, intervalSeconds);
    for (const record of records) {
      try {
        checkHost(record.host);
      } catch (err) {
        failures?.inc({ source: source.name });
        log.warn('source reported a bad host; record skipped', {
          source: source.name,
          error: (err as Error).message,
        });
        continue;
      }
      const merged = byHost.get(record.host) ?? {};
      let added = 0;
      for (const [name, value] of Object.entries(record.metrics)) {
        try {
          checkMetricName(name);
        } catch {
          continue;
        }
        if (typeof value === 'number' && Number.isFinite(value)) {
          merged[name] = value;
          added++;
        }
      }
      byHost.set(record.host, merged);
      if (added > 0)
        hostIntervals.set(record.host, Math.max(hostIntervals.get(record.host) ?? 0, declared));
    }
  }
  const samples: Sample[] = [];
  for (const [host, metrics] of byHost) {
    if (Object.keys(metrics).length > 0)
      samples.push({
        host,
        id: ids.next(),
        time,
        interval: hostIntervals.get(host) ?? intervalSeconds,
        metrics,
      });
  }
  return samples;
}

/** Polls every source at once, waits for all (each within its timeout), and merges. */
export async function collectSamples(
  sources: readonly Source[],
  timeoutMs: number,
  time: number,
  intervalSeconds: number,
  ids: SampleIds,
  log: Log,
  failures?: SourceFailures,
  hostIntervals: Map<string, number> = new Map(),
): Promise<Sample[]> {
  const results = await Promise.all(
    sources.map(async (source) => ({
      source,
      records: await pollSource(source, timeoutMs, log, failures),
    })),
  );
  return mergeRecords(results, time, intervalSeconds, ids, log, failures, hostIntervals);
}

interface Poll {
  source: Source;
  /** Set once the poll finished (records, or none after a failure). */
  records?: PartialRecord[];
  done: Promise<void>;
}

/**
 * The agent's collections, tick after tick. A collection waits for the polls
 * it started only until its deadline (before the next tick), so a slow or
 * black-holed source never delays the others' samples; a poll that answers
 * later, within its own timeout, goes into the next collection. A source is not
 * polled again while an answer of it is still to be merged, so every answer
 * lands in exactly one sample.
 */
export class Collector {
  readonly failures = new SourceFailureCounts();
  private readonly lastPolls = new Map<Source, number>();
  private readonly hostIntervals = new Map<string, number>();
  private readonly stopping = new AbortController();
  private pending: Poll[] = [];

  constructor(
    private readonly sources: readonly Source[],
    private readonly settings: { intervalSeconds: number; timeoutMs: number },
    private readonly ids: SampleIds,
    private readonly log: Log,
  ) {}

  /** Polls the sources due on `tick`, waits for answers until `deadline` (epoch ms), and merges what came. */
  async collect(tick: number, time: number, deadline: number): Promise<Sample[]> {
    const waiting = new Set(this.pending.map((p) => p.source));
    const idle = this.sources.filter((s) => !waiting.has(s));
    for (const source of dueSources(idle, tick, this.settings.intervalSeconds, this.lastPolls)) {
      const poll: Poll = { source, done: Promise.resolve() };
      poll.done = pollSource(
        source,
        this.settings.timeoutMs,
        this.log,
        this.failures,
        this.stopping.signal,
      ).then((records) => {
        poll.records = records;
      });
      this.pending.push(poll);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.pending.map((p) => p.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    const answered = this.pending.filter((p) => p.records !== undefined);
    this.pending = this.pending.filter((p) => p.records === undefined);
    for (const p of this.pending) {
      this.log.debug('source still answering; its records go into a later sample', {
        source: p.source.name,
      });
    }
    return mergeRecords(
      answered.map((p) => ({ source: p.source, records: p.records! })),
      time,
      this.settings.intervalSeconds,
      this.ids,
      this.log,
      this.failures,
      this.hostIntervals,
    );
  }

  /** Abandons polls still running (at shutdown: nothing is left to merge them into). */
  stop(): void {
    this.stopping.abort();
  }
}
