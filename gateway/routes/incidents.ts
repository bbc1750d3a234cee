// GET api/v1/incidents?state=open|resolved|all&host=&since= and
// GET api/v1/incidents/{id}: incidents opened by the rules consumer.
import { stringifyWithFloats } from '../../proto/float.ts';
import { sendJson } from '../../proto/http.ts';
import { InputError } from '../../proto/sample.ts';
import { INCIDENT_FLOATS, incidentView, parseIncidentQuery } from '../incidents.ts';
import { parseHostParam } from '../read.ts';
import type { RouteGroup } from './context.ts';

export const incidentRoutes: RouteGroup = (router, { base, incidents }) => {
  router.get(`${base}api/v1/incidents`, async (ctx) => {
    const query = { ...parseIncidentQuery(ctx.query), host: parseHostParam(ctx.query.host) };
    const list = await incidents.list(query);
    sendJson(ctx, 200, stringifyWithFloats({ incidents: list.map(incidentView) }, INCIDENT_FLOATS));
  });

  router.get(`${base}api/v1/incidents/:id`, async (ctx) => {
    const id = ctx.params.id!;
    if (!/^[0-9a-f]{16}$/.test(id))
      throw new InputError(`'${id.slice(0, 40)}' is not an incident id (16 hex digits)`);
    const incident = await incidents.get(id);
    if (!incident) throw new InputError(`no incident ${id}`, 404, 'not_found');
    sendJson(ctx, 200, stringifyWithFloats(incidentView(incident), INCIDENT_FLOATS));
  });
};
