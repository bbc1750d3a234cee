// Turns points written by other agents (Prometheus remote_write, InfluxDB line
// protocol) into loadstar samples: one sample per host and time, its metrics
// named by proto/prometheus-names.ts. A sample's id is a digest of its content,
// so a sender's retry of the same points is recognised and stored once.
import { createHash } from 'node:crypto';
import type { Sample } from '../proto/sample.ts';

/** One value of one metric of one host at one time. */
export interface WrittenPoint {
  host: string;
  metric: string;
  /** Epoch ms. */
  time: number;
  value: number;
}

/**
 * Groups points by host and time into samples of at most `maxMetrics` metrics
 * (MAX_METRICS_PER_SAMPLE; a larger group is split). Of two points for the same
 * metric, host and time the later one wins. `source` prefixes the ids
 * (`rw` remote_write, `lp` line protocol).
 */
export function samplesOf(points: WrittenPoint[], maxMetrics: number, source: string): Sample[] {
  const groups = new Map<string, { host: string; time: number; metrics: Map<string, number> }>();
  for (const p of points) {
    const key = `${p.host}\n${p.time}`;
    let group = groups.get(key);
    if (!group) {
      group = { host: p.host, time: p.time, metrics: new Map() };
      groups.set(key, group);
    }
    group.metrics.set(p.metric, p.value);
  }
  const samples: Sample[] = [];
  for (const { host, time, metrics } of groups.values()) {
    const names = [...metrics.keys()].sort();
    for (let from = 0; from < names.length; from += maxMetrics) {
      const chunk = names.slice(from, from + maxMetrics);
      const values: Record<string, number> = Object.create(null);
      const digest = createHash('sha256').update(`${host}\n${time}`);
      for (const name of chunk) {
        values[name] = metrics.get(name)!;
        digest.update(`\n${name}=${values[name]}`);
      }
      samples.push({
        host,
        id: `${source}-${digest.digest('base64url').slice(0, 27)}`,
        time,
        interval: 0,
        metrics: values,
      });
    }
  }
  return samples;
}
