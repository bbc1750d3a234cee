// Incidents as every service sees them: the record, where it lives in Redis,
// and the NATS stream that carries each opening and resolution (`incidents.<host>`).
import type { Settings } from './config.ts';
import { hostToken } from './subjects.ts';

export const INCIDENTS_STREAM = 'LOADSTAR_INCIDENTS';
export const INCIDENTS_SUBJECTS = 'incidents.>';
/** The durable consumer the rules consumers share to evaluate samples. */
export const RULES_CONSUMER = 'loadstar-rules';

export function incidentSubject(host: string): string {
  return `incidents.${hostToken(host)}`;
}

export type IncidentState = 'open' | 'resolved';
export type Transition = 'opened' | 'resolved';

export interface Incident {
  id: string;
  rule: string;
  host: string;
  metric: string;
  severity: string;
  state: IncidentState;
  opened_at_ms: number;
  resolved_at_ms: number | null;
  /** The aggregate over the window, the comparison and the thresholds that fired and resolve it. */
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
  return {
    id: h.id,
    rule: h.rule ?? '',
    host: h.host ?? '',
    metric: h.metric ?? '',
    severity: h.severity ?? '',
    state: h.state === 'resolved' ? 'resolved' : 'open',
    opened_at_ms: Number(h.opened_at),
    resolved_at_ms: h.resolved_at ? Number(h.resolved_at) : null,
    aggregate: h.aggregate ?? '',
    op: h.op ?? '',
    threshold: Number(h.threshold),
    resolve_threshold: Number(h.resolve_threshold),
    window: h.window ?? '',
    min: Number(h.min),
    avg: Number(h.sum) / Number(h.count),
    max: Number(h.max),
    samples: Number(h.count),
    trigger: JSON.parse(h.trigger ?? '[]') as [number, number][],
  };
}

/** How long incidents (and the incidents stream) are kept after they opened (INCIDENT_RETENTION). */
export function readIncidentRetention(settings: Settings): number {
  return settings.duration('INCIDENT_RETENTION', '30d', { min: 3_600_000 });
}
