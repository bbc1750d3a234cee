// A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat …):
// `text` for notifications and clients without blocks, `blocks` for the
// message, and the idempotency key in `metadata` (Slack's message metadata)
// besides the Idempotency-Key header.
import { type Incident, incidentSummary } from '../../../proto/incident.ts';
import { commonHeaders, dashboardLink, type ReceiverKind } from './kind.ts';

const MARK: Record<string, string> = {
  opened: ':red_circle:',
  reminder: ':large_orange_circle:',
  resolved: ':large_green_circle:',
};

/** Slack's mrkdwn needs &, < and > escaped in text that is not a link. */
const mrkdwn = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function headline(transition: string, incident: Incident, reminder?: number): string {
  const what = `[${incident.severity.toUpperCase()}] ${incident.rule} on ${incident.host}`;
  if (transition === 'opened') return `${what} opened`;
  if (transition === 'reminder') return `${what} still open (reminder ${reminder})`;
  return incident.resolution === 'host_silent'
    ? `${what} ended: the host went silent`
    : `${what} resolved`;
}

export const slack: ReceiverKind = {
  request(spec, delivery, incident, context) {
    const title = headline(delivery.transition, incident, delivery.reminder);
    const link = dashboardLink(incident, context.dashboardUrl);
    const since = new Date(incident.opened_at_ms).toISOString();
    const until =
      incident.resolved_at_ms === null
        ? ''
        : ` until ${new Date(incident.resolved_at_ms).toISOString()}`;
    const body = {
      text: `${MARK[delivery.transition] ?? ''} ${title}`.trim(),
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `${MARK[delivery.transition] ?? ''} *${mrkdwn(title)}*\n${mrkdwn(incidentSummary(incident))}`,
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: `since ${since}${until} · incident ${incident.id} · <${link}|dashboard>`,
            },
          ],
        },
      ],
      metadata: {
        event_type: 'loadstar_incident',
        event_payload: {
          idempotency_key: delivery.key,
          incident_id: incident.id,
          transition: delivery.transition,
        },
      },
    };
    return {
      url: spec.url,
      body: JSON.stringify(body),
      headers: commonHeaders(spec, delivery.key),
    };
  },
};
