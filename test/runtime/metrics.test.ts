// Every service's /metrics passes Prometheus' own linter, `promtool check
// metrics` (Debian package prometheus): names, types and suffixes as Prometheus
// expects them, ours and the Node defaults we keep alike.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import type { RunningStore } from '../../receiver/store/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  getJson,
  postSample,
  receiverOn,
  rulesOn,
  storeOn,
  uniqueName,
} from '../harness/pipeline.ts';

const PROMTOOL = '/usr/bin/promtool';

/** What promtool says of an exposition: empty when it finds nothing to flag. */
function lint(exposition: string): string {
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw run.error;
  const said = `${run.stdout}${run.stderr}`.trim();
  return run.status === 0 ? said : said || `promtool exited ${run.status}`;
}

async function metricsOf(url: URL): Promise<string> {
  const res = await fetch(new URL('/metrics', url));
  expect(res.status).to.equal(200);
  return res.text();
}

describe('/metrics under promtool check metrics', function () {
  this.timeout(30_000);
  let receiver: RunningReceiver;
  let store: RunningStore;
  let rules: RunningRules;
  let gateway: RunningGateway;
  const host = uniqueName('linted');

  before(async () => {
    if (!existsSync(PROMTOOL))
      throw new Error(`${PROMTOOL} is missing: apt-get install -y prometheus (it brings promtool)`);
    [receiver, store, rules, gateway] = await Promise.all([
      receiverOn(),
      storeOn(),
      rulesOn(),
      gatewayOn(),
    ]);
    // Work for every kind of metric to show: a post with the agent's spool figures, a read.
    const posted = await postSample(
      receiver.url,
      { cpu: 1.5 },
      { 'Loadstar-Host': host, 'Loadstar-Spool-Dropped': '7', 'Loadstar-Spool-Depth': '3' },
    );
    expect(posted.status).to.equal(200);
    expect((await getJson(new URL(`?topics=cpu&host=${host}`, gateway.url))).status).to.equal(200);
  });
  after(() => Promise.all([receiver, store, rules, gateway].map((s) => s?.stop())));

  it('finds nothing to flag on the receiver, spool figures of the agents included', async () => {
    const text = await metricsOf(receiver.url);
    expect(text).to.match(
      new RegExp(
        `# TYPE loadstar_producer_spool_dropped_total counter[^#]*host="${host}"[^}]*\\} 7`,
      ),
    );
    expect(lint(text)).to.equal('');
  });

  it('finds nothing to flag on the storage consumer', async () => {
    expect(lint(await metricsOf(store.url))).to.equal('');
  });

  it('finds nothing to flag on the rules consumer', async () => {
    expect(lint(await metricsOf(rules.url))).to.equal('');
  });

  it("finds nothing to flag on the gateway's scrape of the whole pipeline", async () => {
    // Other processes' counters reach the gateway through Redis every few seconds.
    const text = await eventually(
      async () => {
        const scraped = await metricsOf(gateway.url);
        expect(scraped).to.include(`loadstar_producer_spool_dropped_total{host="${host}"`);
        return scraped;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(lint(text)).to.equal('');
  });
});
