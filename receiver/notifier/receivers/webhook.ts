// The generic JSON webhook: the incident as the HTTP API shows it, the
// transition (opened, resolved, reminder), and the idempotency key, which is
// also the Idempotency-Key header: a receiver drops a delivery it has seen.
import { stringifyWithFloats } from '../../../proto/float.ts';
import { INCIDENT_FLOATS, incidentView } from '../../../proto/incident.ts';
import { commonHeaders, dashboardLink, type ReceiverKind } from './kind.ts';

export const webhook: ReceiverKind = {
  request(spec, delivery, incident, context) {
    const body = {
      idempotency_key: delivery.key,
      transition: delivery.transition,
      ...(delivery.reminder !== undefined && { reminder: delivery.reminder }),
      incident: incidentView(incident),
      dashboard_url: dashboardLink(incident, context.dashboardUrl),
      sent_at: new Date(context.now).toISOString(),
    };
    return {
      url: spec.url,
      body: stringifyWithFloats(body, INCIDENT_FLOATS),
      headers: commonHeaders(spec, delivery.key),
    };
  },
};
