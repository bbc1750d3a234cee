// The notifier and a real Alertmanager (Debian's prometheus-alertmanager,
// started on a free loopback port): an incident opened by posted samples
// appears in its /api/v2/alerts with loadstar's labels, stays there (re-sent
// every ALERTMANAGER_RESEND), and is resolved there when loadstar resolves it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningNotifier } from '../../receiver/notifier/service.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import {
  hasAlertmanager,
  type RunningAlertmanager,
  startAlertmanager,
} from '../harness/alertmanager.ts';
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

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

describe('notifier and Alertmanager', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let alertmanager: RunningAlertmanager;
  let receiver: RunningReceiver;
  let rules: RunningRules;
  let gateway: RunningGateway;
  let notifier: RunningNotifier;
  let dir: string;

  before(async function () {
    if (!hasAlertmanager()) {
      console.log(
        '      prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager): skipped',
      );
      this.skip();
    }
    [nats, redis, alertmanager] = await Promise.all([
      startNats(),
      startRedis(),
      startAlertmanager(),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'loadstar-am-'));
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - name: mem-full\n    metric: mem\n    window: 2\n    threshold: 95\n    severity: critical\n',
    );
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      RULES_FILE: join(dir, 'rules.yaml'),
      ALERTMANAGER_URLS: alertmanager.url,
      ALERTMANAGER_RESEND: '2s',
      ALERT_DASHBOARD_URL: 'http://dashboard.example:8080/',
    };
    [receiver, gateway] = await Promise.all([receiverOn(env), gatewayOn(env)]);
    [rules, notifier] = await Promise.all([rulesOn(env), notifierOn(env)]);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), gateway?.stop(), rules?.stop(), notifier?.stop()]);
    await alertmanager?.stop();
    for (const s of [nats, redis]) {
      await s?.stop();
      if (s) removeDir(s.dir);
    }
    if (dir) removeDir(dir);
  });

  const alertsOf = async (host: string): Promise<Alert[]> => {
    const res = await fetch(`${alertmanager.url}/api/v2/alerts?filter=host%3D%22${host}%22`);
    expect(res.status).to.equal(200);
    return (await res.json()) as Alert[];
  };

  it('shows an opened incident as an active alert with its labels, and resolves it with loadstar', async () => {
    const host = uniqueName('am');
    const post = (time: number, mem: number) =>
      postSample(
        receiver.url,
        { mem },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '30' },
      );
    const t0 = Date.now() - 10_000;
    await post(t0, 97);
    await post(t0 + 1_000, 99);
    const [alert] = await eventually(
      async () => {
        const found = await alertsOf(host);
        expect(found).to.have.length(1);
        return found;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const { body } = await getJson(new URL(`api/v1/incidents?host=${host}`, gateway.url));
    const incident = body.incidents[0];
    expect(alert!.labels).to.deep.equal({
      alertname: 'mem-full',
      host,
      severity: 'critical',
      metric: 'mem',
      incident_id: incident.id,
      source: 'loadstar',
    });
    expect(alert!.status.state).to.equal('active');
    expect(Date.parse(alert!.startsAt)).to.equal(t0 + 1_000);
    expect(alert!.annotations.summary).to.equal(`avg(mem) > 95 over 2 samples on ${host}`);
    expect(alert!.generatorURL).to.match(/^http:\/\/dashboard\.example:8080\/#host=/);
    expect(alert!.generatorURL).to.include(`incident=${incident.id}`);

    // Re-sent while open: its end keeps moving ahead (Alertmanager would resolve it otherwise).
    const firstEnd = Date.parse(alert!.endsAt);
    await eventually(
      async () => expect(Date.parse((await alertsOf(host))[0]!.endsAt)).to.be.above(firstEnd),
      { timeoutMs: 15_000, intervalMs: 250 },
    );

    await post(t0 + 2_000, 20);
    await post(t0 + 3_000, 20);
    // Resolved: its end is the resolution, in the past, so Alertmanager lists it no more.
    await eventually(async () => expect(await alertsOf(host)).to.deep.equal([]), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    const groups = (await (await fetch(`${alertmanager.url}/api/v2/alerts/groups`)).json()) as {
      alerts: Alert[];
    }[];
    expect(groups.flatMap((g) => g.alerts).filter((a) => a.labels.host === host)).to.deep.equal([]);
  });
});
