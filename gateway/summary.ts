// The fleet at a glance, for the dashboard's overview: every host's state, its
// newest cpu, mem, disk and load, a 15-minute cpu sparkline and its open
// incidents (each with its acknowledgement and silences, as api/v1/incidents
// shows it), in one answer. Read-only, and never a round trip per host: the host
// list is one read, then every host's reads go out together (ioredis pipelines
// them on one connection), beside the open incidents.

import type { RedisClient } from '../deploy/runtime/redis.ts';
import type { Acknowledgement, AckStore } from '../proto/ack.ts';
import { stringifyWithFloats } from '../proto/float.ts';
import { INCIDENT_FLOATS, type Incident } from '../proto/incident.ts';
import type { Silence, SilenceStore } from '../proto/silence.ts';
import { MINUTE_MS } from '../proto/store/codec.ts';
import { readRaw } from './history.ts';
import { type IncidentReader, incidentAnswer } from './incidents.ts';
import { JsonText } from './json-text.ts';
import {
  ageSeconds,
  type HostState,
  hostState,
  type ReadModel,
  type Staleness,
  unavailable,
} from './read.ts';
import type { ScopeStatus } from './recording.ts';

/** The figures each tile shows, in this order. */
export const SUMMARY_METRICS = ['cpu', 'mem', 'disk', 'load.1'] as const;
/** The sparkline's metric and its length in minutes (the last one still filling). */
export const SPARKLINE_METRIC = 'cpu';
export const SPARKLINE_MINUTES = 15;

export interface HostSummary {
  host: string;
  state: HostState;
  lastSeen: number;
  interval: number;
  recording: boolean;
  /** Newest value of each of SUMMARY_METRICS, null where the host never sent it. */
  values: (number | null)[];
  /** Average of each minute of the sparkline, null for a minute without samples. */
  minutes: (number | null)[];
  /** Open incidents by severity, most first. */
  openBySeverity: [string, number][];
}

export interface FleetSummary {
  now: number;
  sparklineFrom: number;
  hosts: HostSummary[];
  incidents: Incident[];
  /** The acknowledgement of each of `incidents`, in their order (null: none). */
  acks: (Acknowledgement | null)[];
  silences: Silence[];
}

export interface SummarySources {
  redis: RedisClient;
  read: ReadModel;
  incidents: IncidentReader;
  acks: AckStore;
  silences: SilenceStore;
  staleness: Staleness;
  rawRetentionMs: number;
  recording: (host: string) => ScopeStatus;
}

/**
 * Reads the summary of every host, or of `only`. Three waves of reads at most:
 * the host list (with the open incidents' index and the silences beside it), then
 * every host's interval, latest values and sparkline blocks together (with the
 * incidents' records, then their acknowledgements).
 */
export async function readSummary(
  from: SummarySources,
  only?: string,
  now = Date.now(),
): Promise<FleetSummary> {
  // The sparkline's minutes are whole minutes, the last one the minute now filling.
  const sparklineFrom = now - (now % MINUTE_MS) - (SPARKLINE_MINUTES - 1) * MINUTE_MS;
  const openIncidents = from.incidents.list({ state: 'open', host: only, since: 0 });
  const alerts = Promise.all([
    openIncidents.then((list) => from.acks.many(list.map((i) => i.id))),
    from.silences.list(),
  ]).catch(unavailable);
  const seen = await from.read.hostsSeen(only);
  const names = seen.map((s) => s.host);
  const notBefore = now - from.rawRetentionMs;
  // The host list's own last-seen time and the declared interval are all a state needs.
  const [intervals, latest, sparks, incidents, [acks, silences]] = await Promise.all([
    from.read.intervals(names),
    from.read.latestOfHosts(names, [...SUMMARY_METRICS]),
    Promise.all(
      names.map((h) => readRaw(from.redis, h, SPARKLINE_METRIC, sparklineFrom, now, notBefore)),
    ),
    openIncidents,
    alerts,
  ]);
  const bySeverity = new Map<string, Map<string, number>>();
  for (const incident of incidents) {
    const counts = bySeverity.get(incident.host) ?? new Map<string, number>();
    counts.set(incident.severity, (counts.get(incident.severity) ?? 0) + 1);
    bySeverity.set(incident.host, counts);
  }
  const hosts = seen.map(({ host, lastSeen }, i): HostSummary => {
    const counts = bySeverity.get(host);
    const interval = intervals[i]!;
    return {
      host,
      state: hostState(lastSeen, interval, from.staleness, now),
      lastSeen,
      interval,
      recording: from.recording(host).recording,
      values: latest[i]!,
      minutes: minuteAverages(sparks[i]!, sparklineFrom, SPARKLINE_MINUTES),
      openBySeverity: counts ? [...counts].sort((a, b) => b[1] - a[1]) : [],
    };
  });
  hosts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { now, sparklineFrom, hosts, incidents, acks, silences };
}

/** Raw points into per-minute averages from `from`, rounded to two decimals (a sparkline's precision). */
export function minuteAverages(
  points: [number, number][],
  from: number,
  minutes: number,
): (number | null)[] {
  const sums = new Float64Array(minutes);
  const counts = new Uint32Array(minutes);
  for (const [time, value] of points) {
    const minute = Math.floor((time - from) / MINUTE_MS);
    if (minute < 0 || minute >= minutes) continue;
    sums[minute]! += value;
    counts[minute]!++;
  }
  return Array.from(counts, (count, i) =>
    count === 0 ? null : Math.round((sums[i]! / count) * 100) / 100,
  );
}

/** The answer of GET api/v1/summary, written straight into a buffer (a thousand hosts are 300 KB). */
export function writeSummary(
  summary: FleetSummary,
  context: {
    staleness: Staleness;
    rawRetentionMs: number;
    minuteRetentionMs: number;
    gapFactor: number;
    recording: ScopeStatus;
  },
): Buffer {
  const { now } = summary;
  const out = new JsonText()
    .text('{"time_ms":')
    .integer(now)
    .text(',"raw_retention_ms":')
    .integer(context.rawRetentionMs)
    .text(',"minute_retention_ms":')
    .integer(context.minuteRetentionMs)
    .text(',"gap_factor":')
    .float(context.gapFactor)
    .text(',"stale_factor":')
    .float(context.staleness.factor)
    .text(',"offline_factor":')
    .float(context.staleness.offlineFactor)
    .text(`,"recording":${JSON.stringify(context.recording)}`)
    .text(`,"metrics":${JSON.stringify(SUMMARY_METRICS)}`)
    .text(`,"sparkline":{"metric":"${SPARKLINE_METRIC}","from_ms":`)
    .integer(summary.sparklineFrom)
    .text(',"step_ms":')
    .integer(MINUTE_MS)
    .text('},"hosts":[');
  summary.hosts.forEach((h, i) => {
    if (i > 0) out.comma();
    out
      .text(`{"host":${JSON.stringify(h.host)},"state":"${h.state}","last_seen_ms":`)
      .integer(h.lastSeen)
      .text(',"age_seconds":')
      .float(ageSeconds(h.lastSeen, now))
      .text(',"interval":')
      .float(h.interval)
      .text(`,"recording":${h.recording},"values":{`);
    SUMMARY_METRICS.forEach((name, k) => {
      if (k > 0) out.comma();
      const value = h.values[k];
      out.text(`"${name}":`);
      if (value === null || value === undefined) out.text('null');
      else out.float(value);
    });
    out.text('},"sparkline":[');
    h.minutes.forEach((value, k) => {
      if (k > 0) out.comma();
      if (value === null) out.text('null');
      else out.float(value);
    });
    out.text('],"open_incidents":[');
    h.openBySeverity.forEach(([severity, count], k) => {
      if (k > 0) out.comma();
      out
        .text(`{"severity":${JSON.stringify(severity)},"count":`)
        .integer(count)
        .text('}');
    });
    out.text(']}');
  });
  out.text('],"incidents":[');
  summary.incidents.forEach((incident, i) => {
    if (i > 0) out.comma();
    const answer = incidentAnswer(incident, summary.acks[i] ?? null, summary.silences, now);
    out.text(stringifyWithFloats(answer, INCIDENT_FLOATS));
  });
  return out.text(']}').bytes();
}
