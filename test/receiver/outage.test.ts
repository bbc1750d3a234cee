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

  it('answers 503 at once past MAX_IN_FLIGHT samples being stored, and stores the ones in flight', async () => {
    const small = await receiverOn({
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      MAX_IN_FLIGHT: '1',
    });
    const host = uniqueName('busy');
    const postTo = (id: string) =>
      postSample(small.url, { cpu: 2 }, { 'Loadstar-Host': host, 'Loadstar-Sample-Id': id });
    // A paused Redis holds the first sample's fold in flight.
    redis.process.kill('SIGSTOP');
    let first: ReturnType<typeof postTo> | undefined;
    try {
      first = postTo('first');
      const busy = await eventually(async () => {
        const res = await postTo('second');
        expect(res.status).to.equal(503);
        return res;
      });
      expect(busy.body.error).to.include('MAX_IN_FLIGHT');
      expect(busy.headers.get('retry-after')).to.equal('1');
    } finally {
      redis.process.kill('SIGCONT');
    }
    try {
      expect((await first).status).to.equal(200);
      expect((await postTo('second')).status).to.equal(200);
      const metrics = await fetch(new URL('/metrics', small.url)).then((r) => r.text());
      expect(metrics).to.match(/^loadstar_receiver_busy_total(\{[^}]*\})? [1-9]/m);
    } finally {
      await small.stop();
    }
  });

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
