// The notifier through the real pipeline (receiver -> stream -> rules consumer
// -> incidents stream -> notifier -> webhook sinks run as processes), on
// servers of its own: a receiver that is down (killed) for an outage while the
// notifier and NATS restart gets every transition once, in order, afterwards;
// a sink that hangs does not delay a healthy one; a silence holds a transition
// back and its deletion lets the next through; an acknowledgement stops
// reminders. The outage lasts ALERT_TEST_OUTAGE_MS (5 s; 60000 for a real minute).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import { settingsReceiverName } from '../../receiver/notifier/routing.ts';
import type { RunningNotifier } from '../../receiver/notifier/service.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  getJson,
  notifierOn,
  postSample,
  receiverOn,
  rulesOn,
  uniqueName,
} from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';
import { Sink } from './sinks.ts';

const OUTAGE_MS = Number(process.env.ALERT_TEST_OUTAGE_MS ?? 5_000);
const TOKEN = 'notifier-test-token';

const RULES = `
rules:
  - name: cpu-hot
    metric: cpu
    window: 1
    threshold: 90
    severity: critical
`;

interface Body {
  idempotency_key: string;
  transition: string;
  reminder?: number;
  incident: { id: string; host: string; state: string; threshold: number };
}

describe('notifier', function () {
  this.timeout(60_000 + 3 * OUTAGE_MS);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let rules: RunningRules;
  let gateway: RunningGateway;
  let notifier: RunningNotifier | undefined;
  let env: Record<string, string>;
  let dir: string;
  const sinks: Sink[] = [];

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'loadstar-notifier-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      RULES_FILE: join(dir, 'rules.yaml'),
      API_TOKEN: TOKEN,
      ALERT_RETRY_MIN: '100ms',
      ALERT_RETRY_MAX: '500ms',
    };
    [receiver, gateway] = await Promise.all([receiverOn(env), gatewayOn(env)]);
    rules = await rulesOn(env);
  });
  afterEach(async () => {
    await notifier?.stop();
    notifier = undefined;
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.kill()));
    await Promise.all([receiver?.stop(), gateway?.stop(), rules?.stop()]);
    for (const s of [nats, redis]) {
      await s?.stop();
      if (s) removeDir(s.dir);
    }
    removeDir(dir);
  });

  const sink = async (name: string, mode: 'ok' | 'hang' = 'ok') => {
    const created = await Sink.create(dir, name, mode);
    sinks.push(created);
    await created.start();
    return created;
  };
  const lastTime = new Map<string, number>();
  /** One sample of cpu for the host, newer than its last (the rules skip one that is not). */
  const post = async (host: string, cpu: number) => {
    const time = Math.max(Date.now(), (lastTime.get(host) ?? 0) + 1);
    lastTime.set(host, time);
    // Through a NATS restart the receiver answers 503 for a moment: the agent would retry too.
    await eventually(
      async () => {
        const posted = await postSample(
          receiver.url,
          { cpu },
          { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '60' },
        );
        expect(posted.status, JSON.stringify(posted.body)).to.equal(200);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  };
  const incidentOf = async (host: string) => {
    const found = await eventually(async () => {
      const { body } = await getJson(
        new URL(`api/v1/incidents?state=all&host=${host}`, gateway.url),
      );
      expect(body.incidents).to.have.length(1);
      return body.incidents[0] as { id: string; state: string };
    });
    return found;
  };
  const api = (path: string, method: string, body?: unknown) =>
    fetch(new URL(path, gateway.url), {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('delivers every transition once, in order, to a receiver that was down while the notifier and NATS restarted', async () => {
    const hook = await sink('outage');
    notifier = await notifierOn({ ...env, ALERT_WEBHOOK_URLS: hook.url });
    const [h0, h1, h2] = [uniqueName('before'), uniqueName('during'), uniqueName('across')];

    await post(h0, 95);
    const i0 = await incidentOf(h0);
    await eventually(() => expect(hook.keys()).to.deep.equal([`${i0.id}:opened`]));

    // The outage: the sink is killed; meanwhile incidents open and resolve, the notifier
    // restarts (its queue is in JetStream) and so does NATS (the queue is on its disk).
    await hook.kill();
    const downSince = Date.now();
    await post(h1, 96);
    const i1 = await incidentOf(h1);
    await post(h0, 10);
    await notifier.stop();
    notifier = await notifierOn({ ...env, ALERT_WEBHOOK_URLS: hook.url });
    await post(h1, 11);
    await nats.restart();
    await post(h2, 97);
    const i2 = await incidentOf(h2);
    // Down until the notifier has kept failing for the whole outage (it retries all along).
    await eventually(
      async () => {
        const { body } = await getJson(new URL('api/v1/receivers', gateway.url));
        const [status] = body.receivers;
        expect(status).to.include({
          name: settingsReceiverName('webhook', new URL(hook.url)),
          type: 'webhook',
          url: `http://127.0.0.1:${hook.port}/…`,
        });
        expect(Date.parse(status.last_error_at)).to.be.at.least(downSince + OUTAGE_MS);
        expect(status.pending).to.be.above(0);
      },
      { timeoutMs: OUTAGE_MS + 30_000, intervalMs: 250 },
    );
    expect(hook.lines()).to.have.length(1);

    await hook.start();
    await post(h2, 12);
    const expected = [
      `${i0.id}:opened`,
      `${i1.id}:opened`,
      `${i0.id}:resolved`,
      `${i1.id}:resolved`,
      `${i2.id}:opened`,
      `${i2.id}:resolved`,
    ];
    await eventually(() => expect(hook.keys()).to.deep.equal(expected), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    // What each delivery says matches its key: the incident as of that transition.
    for (const line of hook.lines().filter((l) => !l.repeat)) {
      const body = line.body as Body;
      expect(body.idempotency_key).to.equal(line.key);
      expect(`${body.incident.id}:${body.transition}`).to.equal(line.key);
      expect(body.incident.state).to.equal(body.transition === 'opened' ? 'open' : 'resolved');
    }

    const { body } = await getJson(new URL('api/v1/receivers', gateway.url));
    const receiverName = settingsReceiverName('webhook', new URL(hook.url));
    expect(body.receivers[0]).to.include({ name: receiverName, pending: 0, dropped: 0 });
    expect(body.receivers[0].sent).to.be.at.least(expected.length);
    expect(body.receivers[0].failed).to.be.above(0);
    expect(body.receivers[0].last_error).to.be.a('string');
    const metrics = await (await fetch(new URL('metrics', notifier.url))).text();
    const series = (name: string) =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith(name) && l.includes(`receiver="${receiverName}"`));
    expect(series('loadstar_notifier_deliveries_total').join('\n')).to.match(
      /outcome="sent"[^}]*\} [1-9]/,
    );
    expect(series('loadstar_notifier_last_error_timestamp_seconds')).to.have.length(1);
    const repeats = hook.lines().filter((l) => l.repeat).length;
    console.log(
      `      outage of ${OUTAGE_MS} ms: ${body.receivers[0].failed} failed attempts, ${repeats} repeats dropped by their key`,
    );
  });

  it('keeps delivering to a healthy receiver while another one hangs', async () => {
    const [stuck, healthy] = [await sink('stuck', 'hang'), await sink('healthy')];
    notifier = await notifierOn({
      ...env,
      ALERT_WEBHOOK_URLS: `${stuck.url},${healthy.url}`,
      ALERT_TIMEOUT: '5m',
    });
    const host = uniqueName('hang');
    await post(host, 95);
    const incident = await incidentOf(host);
    await post(host, 10);
    await eventually(() =>
      expect(healthy.keys()).to.deep.equal([`${incident.id}:opened`, `${incident.id}:resolved`]),
    );
    // The stuck one got the first delivery and holds it unanswered: the second waits behind it.
    await eventually(() => expect(stuck.keys()).to.deep.equal([`${incident.id}:opened`]));
    await stuck.kill();
  });

  it('sends nothing about a silenced incident, and lets the next transition through once the silence is deleted', async () => {
    const hook = await sink('silence');
    notifier = await notifierOn({ ...env, ALERT_WEBHOOK_URLS: hook.url });
    const [quiet, loud] = [uniqueName('quiet'), uniqueName('loud')];
    const created = await api('api/v1/silences', 'POST', {
      matchers: { host: quiet },
      ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      comment: 'maintenance',
      author: 'test',
    });
    expect(created.status).to.equal(201);
    const silence = (await created.json()) as { id: string; state: string };
    expect(silence.state).to.equal('active');

    await post(quiet, 95);
    const held = await incidentOf(quiet);
    await post(loud, 95);
    const sent = await incidentOf(loud);
    // One receiver delivers in order: the later incident arriving proves the earlier one was held back.
    await eventually(() => expect(hook.keys()).to.deep.equal([`${sent.id}:opened`]));
    const shown = await getJson(new URL(`api/v1/incidents/${held.id}`, gateway.url));
    expect(shown.body.silenced_by).to.deep.equal([silence.id]);

    expect((await api(`api/v1/silences/${silence.id}`, 'DELETE')).status).to.equal(200);
    await post(quiet, 10);
    await eventually(() =>
      expect(hook.keys()).to.deep.equal([`${sent.id}:opened`, `${held.id}:resolved`]),
    );
  });

  it('reminds of open incidents until they are acknowledged', async () => {
    const hook = await sink('remind');
    writeFileSync(
      join(dir, 'remind.yaml'),
      `${RULES}
receivers:
  - name: on-call
    type: webhook
    url: ${hook.url}
routes:
  - receivers: [on-call]
    remind_every: 1s
`,
    );
    notifier = await notifierOn({ ...env, RULES_FILE: join(dir, 'remind.yaml') });
    const [acked, nagging] = [uniqueName('acked'), uniqueName('nagging')];
    await post(acked, 95);
    await post(nagging, 95);
    const [a, n] = [await incidentOf(acked), await incidentOf(nagging)];
    const reminders = (id: string) =>
      hook
        .lines()
        .filter((l) => !l.repeat && (l.body as Body).incident.id === id)
        .map((l) => (l.body as Body).reminder)
        .filter((r) => r !== undefined);
    await eventually(
      () => {
        expect(reminders(a.id)).to.include(1);
        expect(reminders(n.id)).to.include(1);
      },
      { timeoutMs: 10_000 },
    );
    const ack = await api(`api/v1/incidents/${a.id}/ack`, 'POST', {
      author: 'test',
      comment: 'on it',
    });
    expect(ack.status).to.equal(200);
    expect(
      ((await ack.json()) as { acknowledged: { author: string } }).acknowledged.author,
    ).to.equal('test');
    const atAck = reminders(a.id).length;
    const nagged = reminders(n.id).length;
    await eventually(() => expect(reminders(n.id).length).to.be.at.least(nagged + 2), {
      timeoutMs: 10_000,
    });
    // At most one that was already on its way when the acknowledgement came.
    expect(reminders(a.id).length).to.be.at.most(atAck + 1);
  });
});
