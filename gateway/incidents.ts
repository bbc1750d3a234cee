// Reads incidents for the API: the index kept by the rules consumer, with the
// live episode figures (min, avg, max, samples) of incidents still open, and
// each one as every answer shows it (with its acknowledgement and silences).

import type { RedisClient } from '../deploy/runtime/redis.ts';
import { type Acknowledgement, ackView } from '../proto/ack.ts';
import { type Incident, incidentFromHash, incidentKeys, incidentView } from '../proto/incident.ts';
import { InputError, parseTime } from '../proto/sample.ts';
import { silences as holds, type Silence } from '../proto/silence.ts';
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

/**
 * An incident as the API shows it (api/v1/incidents and api/v1/summary alike):
 * the record, its acknowledgement, the silences holding it at `now`.
 */
export function incidentAnswer(
  incident: Incident,
  ack: Acknowledgement | null,
  silences: Silence[],
  now: number,
): Record<string, unknown> {
  return {
    ...incidentView(incident),
    acknowledged: ack ? ackView(ack) : null,
    silenced_by: silences.filter((s) => holds(s, incident, now)).map((s) => s.id),
  };
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
