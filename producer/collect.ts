// One collection: every source at once, each within its own timeout, merged
// into one sample per host. A source that fails, hangs or returns garbage is
// logged and counted; the others still report.
import type { Log } from '../proto/log.ts';
import {
  checkHost,
  checkMetricName,
  type Metrics,
  type Sample,
  type SampleIds,
} from '../proto/sample.ts';
import type { Source } from './sources/source.ts';

export interface SourceFailures {
  inc(labels: { source: string }): void;
}

export async function collectSamples(
  sources: readonly Source[],
  timeoutMs: number,
  time: number,
  intervalSeconds: number,
  ids: SampleIds,
  log: Log,
  failures?: SourceFailures,
): Promise<Sample[]> {
  const results = await Promise.all(
    sources.map(async (source) => {
      try {
        return await source.collect(AbortSignal.timeout(timeoutMs));
      } catch (err) {
        failures?.inc({ source: source.name });
        log.warn('source failed', { source: source.name, error: (err as Error).message });
        return [];
      }
    }),
  );
  const byHost = new Map<string, Metrics>();
  results.forEach((records, i) => {
    for (const record of records) {
      try {
        checkHost(record.host);
      } catch (err) {
        failures?.inc({ source: sources[i]!.name });
        log.warn('source reported a bad host; record skipped', {
          source: sources[i]!.name,
          error: (err as Error).message,
        });
        continue;
      }
      const merged = byHost.get(record.host) ?? {};
      for (const [name, value] of Object.entries(record.metrics)) {
        try {
          checkMetricName(name);
        } catch {
          continue;
        }
        if (typeof value === 'number' && Number.isFinite(value)) merged[name] = value;
      }
      byHost.set(record.host, merged);
    }
  });
  const samples: Sample[] = [];
  for (const [host, metrics] of byHost) {
    if (Object.keys(metrics).length > 0)
      samples.push({ host, id: ids.next(), time, interval: intervalSeconds, metrics });
  }
  return samples;
}
