// `npm run notifier` as an operator runs it: it answers /healthz, /readyz and
// /metrics, re-reads its receivers and routes on SIGHUP (keeping them when the
// file turned bad), and drains and exits 0 on SIGTERM.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { eventually } from '../harness/eventually.ts';
import { getJson } from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { freePort, removeDir } from '../harness/servers.ts';

describe('notifier process', function () {
  this.timeout(40_000);

  it('serves health and metrics, reloads on SIGHUP, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-notifier-proc-'));
    const file = join(dir, 'rules.yaml');
    const receivers = (type: string) =>
      `receivers:\n  - name: tickets\n    type: ${type}\n    url: http://127.0.0.1:9/hook\nroutes:\n  - receivers: [tickets]\n`;
    writeFileSync(file, receivers('webhook'));
    const port = await freePort();
    const proc = runScript('receiver/notifier/main.ts', {
      NATS_URL: shared.natsUrl,
      REDIS_URL: shared.redisUrl,
      NOTIFIER_URL: `http://127.0.0.1:${port}/`,
      RULES_FILE: file,
    });
    const base = `http://127.0.0.1:${port}/`;
    try {
      await eventually(
        async () =>
          expect((await getJson(`${base}readyz`)).body).to.deep.equal({
            ready: true,
            nats: true,
            redis: true,
          }),
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      expect((await getJson(`${base}healthz`)).status).to.equal(200);
      const metrics = await (await fetch(`${base}metrics`)).text();
      expect(metrics).to.include('loadstar_notifier_deliveries_total');
      expect(proc.output()).to.include('notifying').and.include('tickets(webhook)');

      writeFileSync(file, receivers('pager'));
      proc.child.kill('SIGHUP');
      await eventually(() =>
        expect(proc.output()).to.include(
          "receivers[0] 'tickets': field 'type' must be webhook, slack, alertmanager",
        ),
      );
      expect(proc.output()).to.include('the receivers and routes in force stay');
      writeFileSync(file, receivers('slack'));
      proc.child.kill('SIGHUP');
      await eventually(() =>
        expect(proc.output()).to.match(/receivers and routes reloaded .*trigger=SIGHUP/),
      );

      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      expect(proc.output()).to.include('stopped cleanly');
    } finally {
      proc.child.kill('SIGKILL');
      removeDir(proc.cwd);
      removeDir(dir);
    }
  });
});
