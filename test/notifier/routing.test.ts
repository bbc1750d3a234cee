// Receivers, routes and what each receiver type is sent, on their own: the
// routing picks receivers by severity, host and rule; a bad entry is refused
// naming it and the field; the webhook, Slack and Alertmanager bodies carry
// the incident, the transition and the idempotency key.
import { join } from 'node:path';
import { expect } from 'chai';
import { readStructuredFile } from '../../deploy/runtime/structured-file.ts';
import type { Incident } from '../../proto/incident.ts';
import { parseSilence, silences } from '../../proto/silence.ts';
import type { Delivery } from '../../receiver/notifier/delivery.ts';
import { alertmanager } from '../../receiver/notifier/receivers/alertmanager.ts';
import { slack } from '../../receiver/notifier/receivers/slack.ts';
import { webhook } from '../../receiver/notifier/receivers/webhook.ts';
import {
  parseRouting,
  RoutingError,
  type SettingsReceivers,
  settingsReceiverName,
  targetsOf,
} from '../../receiver/notifier/routing.ts';
import { parseRules } from '../../receiver/rules/rules.ts';
import { REPO } from '../harness/processes.ts';

const none: SettingsReceivers = { webhook: [], slack: [], alertmanager: [], remindEveryMs: null };
const incident = (over: Partial<Incident> = {}): Incident => ({
  id: '3f9c2a71b8d04e65',
  rule: 'disk-high',
  kind: 'threshold',
  host: 'db-01',
  metric: 'disk',
  severity: 'critical',
  state: 'open',
  opened_at_ms: 1_700_000_000_000,
  resolved_at_ms: null,
  resolution: null,
  aggregate: 'avg',
  op: '>',
  threshold: 90,
  resolve_threshold: 85.5,
  window: '9 samples',
  min: 91,
  avg: 93,
  max: 96,
  samples: 9,
  trigger: [[1_700_000_000_000, 96]],
  ...over,
});
const context = {
  dashboardUrl: new URL('http://dash.example:8080/'),
  now: 1_700_000_060_000,
  resendMs: 60_000,
};

describe('notifier routing', () => {
  const file = {
    receivers: [
      { name: 'db-team', type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' },
      {
        name: 'tickets',
        type: 'webhook',
        url: 'https://tickets.example/hook',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${NAME} syntax.
        headers: { Authorization: 'Bearer ${TICKET_TOKEN}' },
      },
    ],
    routes: [
      { receivers: ['db-team'], hosts: 'db-*', severity: ['critical'], remind_every: '4h' },
      { receivers: ['db-team', 'tickets'], rule: 'disk-*', remind_every: '1h' },
    ],
  };
  const settings = { ...none, alertmanager: [new URL('http://am.example:9093')] };

  it('sends an incident to every receiver of every matching route once, with the shortest reminder', () => {
    const routing = parseRouting(file, settings, { TICKET_TOKEN: 't0k3n' });
    const am = settingsReceiverName('alertmanager', new URL('http://am.example:9093'));
    const picked = (i: Incident) =>
      targetsOf(routing, i).map((t) => [t.receiver.name, t.remindEveryMs]);
    expect(picked(incident())).to.deep.equal([
      [am, null],
      ['db-team', 3_600_000],
      ['tickets', 3_600_000],
    ]);
    expect(picked(incident({ host: 'web-01', rule: 'cpu-high' }))).to.deep.equal([[am, null]]);
    expect(picked(incident({ severity: 'warning', rule: 'cpu-high' }))).to.deep.equal([[am, null]]);
    expect(routing.receivers.find((r) => r.name === 'tickets')!.headers).to.deep.equal({
      Authorization: 'Bearer t0k3n',
    });
  });

  it('reads deploy/rules.example.yaml: its rules, receivers and routes', () => {
    const source = readStructuredFile(join(REPO, 'deploy', 'rules.example.yaml'));
    expect(parseRules(source).map((r) => r.kind)).to.include('absent');
    const routing = parseRouting(source, none, { TICKETS_TOKEN: 'secret' });
    expect(routing.receivers.map((r) => [r.name, r.type])).to.deep.equal([
      ['ops-slack', 'slack'],
      ['pager', 'alertmanager'],
      ['tickets', 'webhook'],
    ]);
    expect(targetsOf(routing, incident({ host: 'db7' })).map((t) => t.receiver.name)).to.deep.equal(
      ['pager', 'ops-slack', 'tickets'],
    );
  });

  it('names a receiver of the settings by its URL, whatever its place in the list', () => {
    const [a, b] = [new URL('http://a.example/hook'), new URL('http://b.example/hook')];
    const names = (urls: URL[]) =>
      parseRouting({}, { ...none, webhook: urls }, {}).receivers.map((r) => [r.name, r.url.host]);
    expect(names([a, b])).to.have.deep.members(names([b, a]));
    expect(settingsReceiverName('webhook', a)).to.match(/^webhook-[0-9a-f]{6}$/);
    expect(settingsReceiverName('webhook', a)).to.not.equal(settingsReceiverName('webhook', b));
  });

  for (const [source, words] of [
    [
      { receivers: [{ name: 'x', type: 'pager', url: 'http://p' }] },
      "receivers[0] 'x': field 'type'",
    ],
    [
      { receivers: [{ name: 'x', type: 'slack', url: 'ftp://p' }] },
      "receivers[0] 'x': field 'url'",
    ],
    [{ receivers: [{ name: 'a b', type: 'slack', url: 'http://p' }] }, "field 'name'"],
    [
      {
        receivers: [
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${NAME} syntax.
          { name: 'x', type: 'webhook', url: 'http://p', headers: { A: '${NOPE}' } },
        ],
      },
      'names the setting NOPE, which is not set',
    ],
    [{ routes: [{ receivers: ['ghost'] }] }, "routes[0]: field 'receivers' names 'ghost'"],
    [
      {
        receivers: [{ name: 'x', type: 'slack', url: 'http://p' }],
        routes: [{ receivers: 'x', remind_every: 'often' }],
      },
      "routes[0]: field 'remind_every'",
    ],
    [
      {
        receivers: [{ name: 'x', type: 'slack', url: 'http://p' }],
        routes: [{ receivers: 'x', team: 'db' }],
      },
      "routes[0]: field 'team' is not a route field",
    ],
  ] as const) {
    it(`refuses a bad entry, naming it and the field: ${words}`, () => {
      expect(() => parseRouting(source, none, {}))
        .to.throw(RoutingError)
        .with.property('message')
        .that.includes(words);
    });
  }
});

describe('what receivers are sent', () => {
  const spec = (type: 'webhook' | 'slack' | 'alertmanager', url: string) => ({
    name: `${type}-test`,
    type,
    url: new URL(url),
    headers: {},
    from: 'file' as const,
  });
  const delivery = (transition: Delivery['transition'], i: Incident): Delivery => ({
    key: `${i.id}:${transition}`,
    receiver: 'x',
    transition,
    incident: i,
    created_at_ms: context.now,
  });

  it('gives the webhook the incident as the API shows it, floats as floats, and the key as header and field', () => {
    const i = incident();
    const request = webhook.request(
      spec('webhook', 'http://h/hook'),
      delivery('opened', i),
      i,
      context,
    );
    expect(request.headers['Idempotency-Key']).to.equal(`${i.id}:opened`);
    expect(request.body).to.include('"threshold":90.0');
    const body = JSON.parse(request.body);
    expect(body).to.include({ idempotency_key: `${i.id}:opened`, transition: 'opened' });
    expect(body.incident).to.include({
      id: i.id,
      opened_at: new Date(i.opened_at_ms).toISOString(),
    });
    expect(body.dashboard_url).to.equal(
      `http://dash.example:8080/#host=db-01&incident=${i.id}&metric=disk`,
    );
  });

  it('gives Slack text, blocks and the key in its message metadata', () => {
    const i = incident({
      state: 'resolved',
      resolved_at_ms: context.now,
      resolution: 'host_silent',
    });
    const request = slack.request(
      spec('slack', 'https://hooks.slack.com/x'),
      delivery('resolved', i),
      i,
      context,
    );
    const body = JSON.parse(request.body);
    expect(body.text).to.include('[CRITICAL] disk-high on db-01 ended: the host went silent');
    expect(body.blocks.map((b: { type: string }) => b.type)).to.deep.equal(['section', 'context']);
    expect(body.metadata.event_payload.idempotency_key).to.equal(`${i.id}:resolved`);
  });

  it('gives Alertmanager one alert per incident: labels, a moving end while open, the real end once resolved', () => {
    const i = incident();
    const open = JSON.parse(
      alertmanager.request(
        spec('alertmanager', 'http://am:9093'),
        delivery('opened', i),
        i,
        context,
      ).body,
    );
    expect(open[0].labels).to.deep.equal({
      alertname: 'disk-high',
      host: 'db-01',
      severity: 'critical',
      metric: 'disk',
      incident_id: i.id,
      source: 'loadstar',
    });
    expect(Date.parse(open[0].endsAt)).to.equal(context.now + 4 * context.resendMs);
    const resolved = incident({ state: 'resolved', resolved_at_ms: context.now - 5_000 });
    const request = alertmanager.request(
      spec('alertmanager', 'http://am:9093/base/'),
      delivery('resolved', resolved),
      resolved,
      context,
    );
    expect(request.url.href).to.equal('http://am:9093/base/api/v2/alerts');
    expect(Date.parse(JSON.parse(request.body)[0].endsAt)).to.equal(context.now - 5_000);
    const absent = incident({
      kind: 'absent',
      metric: '',
      rule: 'host-down',
      window: '5 intervals of 1s',
    });
    const refreshed = JSON.parse(
      alertmanager.refresh!(spec('alertmanager', 'http://am:9093'), [absent], context).body,
    );
    expect(refreshed[0].labels).to.not.have.property('metric');
    expect(refreshed[0].annotations.summary).to.equal('db-01 sent no sample for 5 intervals of 1s');
  });
});

describe('silences', () => {
  const now = 1_700_000_000_000;
  it('match every matcher given (exact, glob, regex) while active, and nothing before or after', () => {
    const s = {
      id: '0123456789abcdef',
      created_at_ms: now,
      ...parseSilence(
        {
          matchers: { host: 'db-*', rule: '/^disk/' },
          ends_at: now + 60_000,
          comment: 'swap',
          author: 'al',
        },
        now,
      ),
    };
    expect(silences(s, { host: 'db-01', rule: 'disk-high', severity: 'critical' }, now)).to.equal(
      true,
    );
    expect(silences(s, { host: 'web-01', rule: 'disk-high', severity: 'critical' }, now)).to.equal(
      false,
    );
    expect(silences(s, { host: 'db-01', rule: 'cpu-high', severity: 'critical' }, now)).to.equal(
      false,
    );
    expect(
      silences(s, { host: 'db-01', rule: 'disk-high', severity: 'critical' }, now + 60_000),
    ).to.equal(false);
  });

  it('refuses a silence that names no matcher, or ends before it starts', () => {
    expect(() =>
      parseSilence({ matchers: {}, ends_at: now + 1, comment: 'c', author: 'a' }, now),
    ).to.throw("field 'matchers' names nothing");
    expect(() =>
      parseSilence(
        {
          matchers: { host: 'x' },
          starts_at: now + 10_000,
          ends_at: now + 5_000,
          comment: 'c',
          author: 'a',
        },
        now,
      ),
    ).to.throw("field 'ends_at' must be after 'starts_at'");
    expect(() =>
      parseSilence(
        { matchers: { host: '/([/' }, ends_at: now + 5_000, comment: 'c', author: 'a' },
        now,
      ),
    ).to.throw("matcher 'host' '/([/' is not a valid pattern");
  });
});
