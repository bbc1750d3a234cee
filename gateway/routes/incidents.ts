// GET api/v1/incidents?state=open|resolved|all&host=&since=, GET
// api/v1/incidents/{id}: incidents opened by the rules consumer, each with its
// acknowledgement and the silences holding it now; POST
// api/v1/incidents/{id}/ack acknowledges an open one (no more reminders).

import { sendJson } from '../../deploy/runtime/http.ts';
import { parseAck } from '../../proto/ack.ts';
import { stringifyWithFloats } from '../../proto/float.ts';
import { INCIDENT_FLOATS } from '../../proto/incident.ts';
import { InputError } from '../../proto/sample.ts';
import { requireToken } from '../auth.ts';
import { readJsonBody } from '../body.ts';
import { incidentAnswer, parseIncidentQuery } from '../incidents.ts';
import { parseHostParam, unavailable } from '../read.ts';
import type { RouteGroup } from './context.ts';

function parseId(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id))
    throw new InputError(`'${id.slice(0, 40)}' is not an incident id (16 hex digits)`);
  return id;
}

export const incidentRoutes: RouteGroup = (router, deps) => {
  const { base, incidents, acks, silences, apiToken, log } = deps;

  router.get(`${base}api/v1/incidents`, async (ctx) => {
    const query = { ...parseIncidentQuery(ctx.query), host: parseHostParam(ctx.query.host) };
    const list = await incidents.list(query);
    const [ackList, silenceList] = await Promise.all([
      acks.many(list.map((i) => i.id)),
      silences.list(),
    ]).catch(unavailable);
    const now = Date.now();
    sendJson(
      ctx,
      200,
      stringifyWithFloats(
        { incidents: list.map((i, k) => incidentAnswer(i, ackList[k] ?? null, silenceList, now)) },
        INCIDENT_FLOATS,
      ),
    );
  });

  router.get(`${base}api/v1/incidents/:id`, async (ctx) => {
    const id = parseId(ctx.params.id!);
    const incident = await incidents.get(id);
    if (!incident) throw new InputError(`no incident ${id}`, 404, 'not_found');
    const [ack, silenceList] = await Promise.all([acks.get(id), silences.list()]).catch(
      unavailable,
    );
    sendJson(
      ctx,
      200,
      stringifyWithFloats(incidentAnswer(incident, ack, silenceList, Date.now()), INCIDENT_FLOATS),
    );
  });

  router.post(`${base}api/v1/incidents/:id/ack`, requireToken(apiToken), async (ctx) => {
    const id = parseId(ctx.params.id!);
    const now = Date.now();
    const ack = parseAck(await readJsonBody(ctx), now);
    const incident = await incidents.get(id);
    if (!incident) throw new InputError(`no incident ${id}`, 404, 'not_found');
    if (incident.state !== 'open')
      throw new InputError(
        `incident ${id} is resolved already: only an open incident can be acknowledged`,
        409,
        'conflict',
      );
    const standing = await acks.acknowledge(id, ack).catch(unavailable);
    if (standing === ack) log.info('incident acknowledged', { id, author: ack.author });
    const silenceList = await silences.list().catch(unavailable);
    sendJson(
      ctx,
      200,
      stringifyWithFloats(incidentAnswer(incident, standing, silenceList, now), INCIDENT_FLOATS),
    );
  });
};
