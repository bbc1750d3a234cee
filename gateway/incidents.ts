// Reads incidents for the API: the index kept by the rules consumer, with the
// live episode figures (min, avg, max, samples) of incidents still open.
import { type Incident, incidentFromHash, incidentKeys } from '../proto/incident.ts';
import type { RedisClient } from '../proto/redis.ts';
import { InputError, parseTime } from '../proto/sample.ts';
import { unavailable } from './read.ts';

export interface IncidentQuery {
  state: 'open' | 'resolved' | 'all';
  host?: string;
  /** Incidents opened at or after this time (epoch ms). */
  since: number;
}

export function parseIncidentQuery(
  query: Record<string, string | string[] | undefined>,
): Omit<IncidentQuery, 'host'> {
  const state = query.state ?? 'open';
  if (state !== 'open' && state !== 'resolved' && state !== 'all') {
    throw new InputError(
      `query parameter 'state' must be open, resolved or all, not '${String(state)}'`,
    );
  }
  const since = query.since;
  if (Array.isArray(since)) throw new InputError("query parameter 'since' is given more than once");
  return { state, since: since ? parseTime(since, "query parameter 'since'") : 0 };
}

export class IncidentReader {
  constructor(private readonly redis: RedisClient) {}

  async list(query: IncidentQuery): Promise<Incident[]> {
    const index = query.state === 'open' ? incidentKeys.open : incidentKeys.byTime;
    const ids = await this.redis.zrevrangebyscore(index, '+inf', query.since).catch(unavailable);
    if (ids.length === 0) return [];
    const stored = await this.redis.hmget(incidentKeys.all, ...ids).catch(unavailable);
    const incidents = (
      await Promise.all(
        stored.map((text) => (text ? this.current(JSON.parse(text) as Incident) : null)),
      )
    ).filter((i): i is Incident => i !== null);
    return incidents.filter(
      (i) =>
        (query.state === 'all' || i.state === query.state) &&
        (query.host === undefined || i.host === query.host),
    );
  }

  async get(id: string): Promise<Incident | null> {
    const text = await this.redis.hget(incidentKeys.all, id).catch(unavailable);
    return text ? this.current(JSON.parse(text) as Incident) : null;
  }

  /** An open incident's figures change with every sample: read them from its live record. */
  private async current(indexed: Incident): Promise<Incident> {
    if (indexed.state !== 'open') return indexed;
    const live = incidentFromHash(
      await this.redis.hgetall(incidentKeys.incident(indexed.host, indexed.id)).catch(unavailable),
    );
    return live ?? indexed;
  }
}

/** An incident's figures, written as floats in every answer (times and counts stay integers). */
export const INCIDENT_FLOATS: ReadonlySet<string> = new Set([
  'threshold',
  'resolve_threshold',
  'min',
  'avg',
  'max',
]);

/** An incident as the HTTP API shows it: times also as ISO-8601. */
export function incidentView(i: Incident): Record<string, unknown> {
  return {
    id: i.id,
    rule: i.rule,
    host: i.host,
    metric: i.metric,
    severity: i.severity,
    state: i.state,
    opened_at: new Date(i.opened_at_ms).toISOString(),
    opened_at_ms: i.opened_at_ms,
    resolved_at: i.resolved_at_ms === null ? null : new Date(i.resolved_at_ms).toISOString(),
    resolved_at_ms: i.resolved_at_ms,
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
