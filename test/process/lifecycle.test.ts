import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { eventually } from '../harness/eventually.ts';
import { getJson, postSample, uniqueName } from '../harness/pipeline.ts';
import { runScript, type ServiceProcess } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { freePort } from '../harness/servers.ts';

async function ready(url: string): Promise<void> {
  await eventually(async () => expect((await getJson(url)).status).to.equal(200), {
    timeoutMs: 20_000,
    intervalMs: 100,
  });
}

describe('services as processes', function () {
  this.timeout(60_000);
  const procs: ServiceProcess[] = [];
  let env: Record<string, string>;
  let receiverUrl: string;
  let gatewayUrl: string;

  before(async () => {
    const [r, c, g, grpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    receiverUrl = `http://127.0.0.1:${r}/data`;
    gatewayUrl = `http://127.0.0.1:${g}/`;
    env = {
      NATS_URL: shared.natsUrl,
      REDIS_URL: shared.redisUrl,
      RECEIVER_URL: receiverUrl,
      STORE_URL: `http://127.0.0.1:${c}/`,
      WEB_SERVER_URL: gatewayUrl,
      GRPC_URL: `127.0.0.1:${grpc}`,
      INTERVAL: '0.2',
      SPOOL_DIR: mkdtempSync(join(tmpdir(), 'loadstar-spool-')),
      HOST: uniqueName('proc'),
    };
    procs.push(
      runScript('receiver/main.ts', env),
      runScript('receiver/store/main.ts', env),
      runScript('gateway/main.ts', env),
    );
    await Promise.all([
      ready(`http://127.0.0.1:${r}/readyz`),
      ready(`http://127.0.0.1:${c}/readyz`),
      ready(`${gatewayUrl}readyz`),
    ]);
  });
  after(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  it('carries a real machine’s samples from the producer process to the gateway', async () => {
    const producer = runScript('producer/main.ts', env);
    procs.push(producer);
    const body = await eventually(
      async () => {
        const res = await getJson(
          `${gatewayUrl}api/v1/latest?topics=cpu,mem,load.1&host=${env.HOST}`,
        );
        expect(res.body.cpu).to.not.equal(null);
        return res.body;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(body.cpu.value).to.be.within(0, 100);
    expect(body.mem.value).to.be.within(0, 100);
    expect(body.cpu.interval).to.equal(0.2);
    producer.child.kill('SIGTERM');
    expect(await producer.exited).to.equal(0);
    expect(producer.output()).to.include('stopped cleanly');
  });

  it('drains on SIGTERM: the receiver answers what is in flight, then exits 0', async () => {
    const receiver = procs[0]!;
    const host = uniqueName('drain');
    const inFlight = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postSample(receiverUrl, { seq: i }, { 'Loadstar-Host': host }),
      ),
    );
    receiver.child.kill('SIGTERM');
    const answers = await inFlight.catch(() => []);
    // Every post that got an answer got a real one (200, or refused because the server had closed).
    for (const a of answers) expect(a.status).to.equal(200);
    expect(await receiver.exited).to.equal(0);
    expect(receiver.output()).to.include('SIGTERM: draining').and.include('stopped cleanly');
  });

  it('drains and exits 0 when the channel to its supervisor closes, as when the supervisor dies', async () => {
    const rulesPort = await freePort();
    const rules = runScript(
      'receiver/rules/main.ts',
      { ...env, RULES_URL: `http://127.0.0.1:${rulesPort}/` },
      [],
      { ipc: true },
    );
    await ready(`http://127.0.0.1:${rulesPort}/readyz`);
    rules.child.disconnect();
    expect(await rules.exited, rules.output()).to.equal(0);
    expect(rules.output())
      .to.include('the supervisor is gone: draining')
      .and.include('stopped cleanly');
  });

  it('stops the storage consumer and the gateway cleanly on SIGINT and SIGTERM', async () => {
    const [, consumer, gateway] = procs;
    consumer!.child.kill('SIGINT');
    gateway!.child.kill('SIGTERM');
    expect(await consumer!.exited).to.equal(0);
    expect(await gateway!.exited).to.equal(0);
    expect(consumer!.output()).to.include('stopped cleanly');
    expect(gateway!.output()).to.include('stopped cleanly');
  });
});
