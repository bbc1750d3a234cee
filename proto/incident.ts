// Incidents as every service sees them: the record, where it lives in Redis,
// the NATS stream that carries each opening and resolution (`incidents.<host>`),
// and the record as the HTTP API and the notifier's webhooks show it.
import type { Settings } from '../deploy/runtime/config.ts';
import { hostToken } from './subjects.ts';

export const INCIDENTS_STREAM = 'LOADSTAR_INCIDENTS';
export const INCIDENTS_SUBJECTS = 'incidents.>';
/** The durable consumer the rules consumers share to evaluate samples. */
export const RULES_CONSUMER = 'loadstar-rules';
/** The durable consumer the notifiers share to route each transition to its receivers. */
export const NOTIFIER_CONSUMER = 'loadstar-notifier';

export function incidentSubject(host: string): string {
  return `incidents.${hostToken(host)}`;
}

export type IncidentState = 'open' | 'resolved';
export type Transition = 'opened' | 'resolved';
/** A threshold rule watches a metric's window; an absent rule watches for a host gone silent. */
export type RuleKind = 'threshold' | 'absent';
/**
 * Why an incident ended: its condition cleared (for an absent rule: samples came
 * back), or its host went silent, which ends every other incident of the host
 * (the host's absent incident takes over).
 */
export type Resolution = 'recovered' | 'host_silent';

export interface Incident {
  id: string;
  rule: string;
  kind: RuleKind;
  host: string;
  /** The metric a threshold rule watches; empty for an absent rule. */
  metric: string;
  severity: string;
  state: IncidentState;
  opened_at_ms: number;
  resolved_at_ms: number | null;
  /** null while open. */
  resolution: Resolution | null;
  /**
   * The aggregate over the window, the comparison and the thresholds that fired and
   * resolve it. An absent rule has no aggregate and no comparison (both empty); its
   * thresholds are its number of intervals, and its window says how long that was.
   */
  aggregate: string;
  op: string;
  threshold: number;
  resolve_threshold: number;
  window: string;
  /** Over every sample of the episode, from the window that opened it to the one that resolved it. */
  min: number;
  avg: number;
  max: number;
  samples: number;
  /** The window's [time, value] pairs when it opened. */
  trigger: [number, number][];
}

/** What travels on `incidents.<host>`: an incident at one of its two transitions. */
export interface IncidentEvent {
  transition: Transition;
  incident: Incident;
}

export const incidentKeys = {
  /** hash: one rule's state on one host (last sample time, condition start, open incident). */
  ruleState: (host: string, rule: string) => `ls:{${host}}:rule:${rule}`,
  /** zset time -> "time:value": the rule's window of recent values on this host. */
  window: (host: string, rule: string) => `ls:{${host}}:window:${rule}`,
  /** hash: one incident, kept current while it is open. */
  incident: (host: string, id: string) => `ls:{${host}}:incident:${id}`,
  /** list of "transition|id" not yet published and indexed (drained after every evaluation). */
  outbox: (host: string) => `ls:{${host}}:incident-outbox`,
  /** set of the ids of the host's open incidents, so that a host gone silent can end them all. */
  openOnHost: (host: string) => `ls:{${host}}:incidents-open`,
  /** hash arrival, interval: when the host's newest sample reached the stream, for absent rules. */
  alive: (host: string) => `ls:{${host}}:alive`,
  /** hash id -> JSON of the incident as of its last transition. */
  all: '{loadstar}:incidents',
  /** zset id -> opened time: every incident kept. */
  byTime: '{loadstar}:incidents:by-time',
  /** zset id -> opened time: the open ones. */
  open: '{loadstar}:incidents:open',
};

/** The incident stored as a Redis hash, read back. */
export function incidentFromHash(h: Record<string, string>): Incident | null {
  if (!h.id) return null;
  const state = h.state === 'resolved' ? 'resolved' : 'open';
  const count = Number(h.count);
  return {
    id: h.id,
    rule: h.rule ?? '',
    kind: h.kind === 'absent' ? 'absent' : 'threshold',
    host: h.host ?? '',
    metric: h.metric ?? '',
    severity: h.severity ?? '',
    state,
    opened_at_ms: Number(h.opened_at),
    resolved_at_ms: h.resolved_at ? Number(h.resolved_at) : null,
    resolution:
      state === 'open' ? null : h.resolution === 'host_silent' ? 'host_silent' : 'recovered',
    aggregate: h.aggregate ?? '',
    op: h.op ?? '',
    threshold: Number(h.threshold),
    resolve_threshold: Number(h.resolve_threshold),
    window: h.window ?? '',
    min: Number(h.min),
    avg: count > 0 ? Number(h.sum) / count : 0,
    max: Number(h.max),
    samples: count,
    trigger: JSON.parse(h.trigger ?? '[]') as [number, number][],
  };
}

/** How long incidents (and the incidents stream) are kept after they opened (INCIDENT_RETENTION). */
export function readIncidentRetention(settings: Settings): number {
  return settings.duration('INCIDENT_RETENTION', '30d', { min: 3_600_000 });
}

/** The incident's numbers written as JSON floats in API answers and webhooks (`90.0`). */
export const INCIDENT_FLOATS: ReadonlySet<string> = new Set([
  'threshold',
  'resolve_threshold',
  'min',
  'avg',
  'max',
]);

/** An incident as the HTTP API (and the generic webhook) shows it: times also as ISO-8601. */
export function incidentView(i: Incident): Record<string, unknown> {
  return {
    id: i.id,
    rule: i.rule,
    kind: i.kind,
    host: i.host,
    metric: i.metric,
    severity: i.severity,
    state: i.state,
    opened_at: new Date(i.opened_at_ms).toISOString(),
    opened_at_ms: i.opened_at_ms,
    resolved_at: i.resolved_at_ms === null ? null : new Date(i.resolved_at_ms).toISOString(),
    resolved_at_ms: i.resolved_at_ms,
    resolution: i.resolution,
    aggregate: i.aggregate,
    op: i.op,
    threshold: i.threshold,
    resolve_threshold: i.resolve_threshold,
    window: i.window,
    min: i.min,
    avg: i.avg,
    max: i.max,
    samples: i.samples,
    trigger: i.trigger,
  };
}

/** One line for people: what happened, where (Slack text, Alertmanager summary, logs). */
export function incidentSummary(i: Incident): string {
  if (i.kind === 'absent') return `${i.host} sent no sample for ${i.window}`;
  return `${i.aggregate}(${i.metric}) ${i.op} ${i.threshold} over ${i.window} on ${i.host}`;
}
