// The receiver never answers 200 for a sample it could lose: with NATS or Redis
// away it answers 503 with Retry-After, and takes samples again once they return.
import { expect } from 'chai';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { getJson, postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

describe('receiver during an outage', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    receiver = await receiverOn({ NATS_URL: nats.url, REDIS_URL: redis.url });
  });
  after(async () => {
    await receiver.stop();
    for (const s of [nats, redis]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  const post = () =>
    postSample(receiver.url, { cpu: 1 }, { 'Loadstar-Host': uniqueName('outage') });

  it('answers 503 with Retry-After while NATS is down, and 200 once it is back', async () => {
    expect((await post()).status).to.equal(200);
    await nats.stop();
    const down = await eventually(async () => {
      const res = await post();
      expect(res.status).to.equal(503);
      return res;
    });
    expect(Number(down.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(down.body.error).to.match(/NATS|JetStream/);
    const ready = await getJson(new URL('/readyz', receiver.url));
    expect(ready.status).to.equal(503);
    expect(ready.body).to.include({ ready: false, nats: false });
    await nats.restart();
    await eventually(async () => expect((await post()).status).to.equal(200), {
      timeoutMs: 20_000,
    });
  });

  it('answers 503 with Retry-After while Redis is down, and 200 once it is back', async () => {
    expect((await post()).status).to.equal(200);
    await redis.stop();
    const down = await eventually(async () => {
      const res = await post();
      expect(res.status).to.equal(503);
      return res;
    });
    expect(Number(down.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(down.body.error).to.include('Redis');
    await redis.restart();
    await eventually(async () => expect((await post()).status).to.equal(200), {
      timeoutMs: 20_000,
    });
  });
});
