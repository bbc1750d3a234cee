// Prometheus Alertmanager (API v2, POST /api/v2/alerts): each incident is one
// alert, labelled alertname (the rule), host, severity, metric and
// incident_id, so that the operator's own Alertmanager routes, groups,
// silences and pages it. Alertmanager keeps alerts in memory and resolves one
// that is not re-sent, so open incidents are re-asserted every
// ALERTMANAGER_RESEND with an end 4 resends ahead (as Prometheus does); a
// resolution sends the real end.
import { type Incident, incidentSummary } from '../../../proto/incident.ts';
import { commonHeaders, dashboardLink, type FormatContext, type ReceiverKind } from './kind.ts';

/** Where the alerts go: the URL's own path if it already names the endpoint, else below it. */
function alertsUrl(base: URL): URL {
  if (base.pathname.endsWith('/api/v2/alerts')) return base;
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/api/v2/alerts`;
  return url;
}

function alertOf(incident: Incident, context: FormatContext, key?: string) {
  const open = incident.state === 'open';
  const ends = open
    ? context.now + 4 * context.resendMs
    : Math.min(incident.resolved_at_ms ?? context.now, context.now);
  return {
    labels: {
      alertname: incident.rule,
      host: incident.host,
      severity: incident.severity,
      ...(incident.metric && { metric: incident.metric }),
      incident_id: incident.id,
      source: 'loadstar',
    },
    annotations: {
      summary: incidentSummary(incident),
      ...(incident.resolution === 'host_silent' && {
        description: 'Ended because the host went silent; its absent rule took over.',
      }),
      ...(key && { idempotency_key: key }),
    },
    startsAt: new Date(incident.opened_at_ms).toISOString(),
    // An end never before the start (Alertmanager refuses that).
    endsAt: new Date(Math.max(ends, incident.opened_at_ms)).toISOString(),
    generatorURL: dashboardLink(incident, context.dashboardUrl),
  };
}

export const alertmanager: ReceiverKind = {
  request(spec, delivery, incident, context) {
    return {
      url: alertsUrl(spec.url),
      body: JSON.stringify([alertOf(incident, context, delivery.key)]),
      headers: commonHeaders(spec, delivery.key),
    };
  },
  refresh(spec, open, context) {
    const key = `refresh:${Math.floor(context.now / context.resendMs)}`;
    return {
      url: alertsUrl(spec.url),
      body: JSON.stringify(open.map((incident) => alertOf(incident, context))),
      headers: commonHeaders(spec, key),
    };
  },
};
