// One interface for every type of receiver: how a delivery becomes an HTTP
// request. Adding a type is one file here and one line in the registry below.
import type { Incident } from '../../../proto/incident.ts';
import type { Delivery } from '../delivery.ts';
import type { ReceiverSpec } from '../routing.ts';

export interface OutgoingRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
}

export interface FormatContext {
  /** The dashboard, for links (ALERT_DASHBOARD_URL). */
  dashboardUrl: URL;
  now: number;
  /** How often open incidents are re-asserted to an Alertmanager (ALERTMANAGER_RESEND). */
  resendMs: number;
}

export interface ReceiverKind {
  /** The request for one transition or reminder; `delivery.incident` is set. */
  request(
    spec: ReceiverSpec,
    delivery: Delivery,
    incident: Incident,
    context: FormatContext,
  ): OutgoingRequest;
  /**
   * A receiver that forgets what it is not told again (Alertmanager resolves an
   * alert that is not re-sent): the request that re-asserts every open incident.
   */
  refresh?(spec: ReceiverSpec, open: Incident[], context: FormatContext): OutgoingRequest;
}

/** A link to the incident's host and metric on the dashboard (read by the page from its hash). */
export function dashboardLink(incident: Incident, dashboardUrl: URL): string {
  const url = new URL(dashboardUrl.href);
  const params = new URLSearchParams({ host: incident.host, incident: incident.id });
  if (incident.metric) params.set('metric', incident.metric);
  url.hash = params.toString();
  return url.href;
}

/** The headers every delivery carries: JSON, who sends it, and the key that makes a repeat harmless. */
export function commonHeaders(spec: ReceiverSpec, key: string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'User-Agent': 'loadstar-notifier',
    'Idempotency-Key': key,
    ...spec.headers,
  };
}
