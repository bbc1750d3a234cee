// The stream readers a service stops when it drains: the durable pull consumer
// (storage consumer, rules, notifier) and the gateway's live feed. A stop must
// end them whenever it comes, also while their consumer is still being set up
// (a service told to stop just after it became ready): seen in CI as a rules
// service whose drain never ended.
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { DurableReader, type DurableSpec } from '../../deploy/runtime/durable.ts';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import { LiveFeed } from '../../gateway/feed.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../../proto/subjects.ts';
import { eventually } from '../harness/eventually.ts';
import { removeDir, type ServerProcess, startNats } from '../harness/servers.ts';

/** Whether `stopping` settled within `ms`. */
function settlesWithin(stopping: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([
    stopping.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);
}

describe('stream readers told to stop', function () {
  this.timeout(30_000);
  let server: ServerProcess;
  let nc: NatsConnection;
  let link: NatsLink;
  let consumers = 0;
  const spec = (): DurableSpec => ({
    stream: SAMPLES_STREAM,
    name: `reader-${++consumers}`,
    filter: SAMPLES_SUBJECTS,
    batch: 10,
    maxAckPending: 100,
    ackWaitMs: 30_000,
    pullExpiresMs: 2_000,
  });

  before(async () => {
    server = await startNats();
    nc = await connect({ servers: `127.0.0.1:${server.port}` });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: SAMPLES_STREAM, subjects: [SAMPLES_SUBJECTS] });
    link = {
      nc,
      js: nc.jetstream(),
      jsm,
      isConnected: () => !nc.isClosed(),
      close: () => nc.close(),
    };
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
    if (server) removeDir(server.dir);
  });

  it('a durable reader stops while its consumer is still being created', async () => {
    const reader = new DurableReader(link, spec(), createMemoryLog(), () => {});
    reader.start();
    expect(await settlesWithin(reader.stop(), 10_000)).to.equal(true);
  });

  it('a durable reader stops while it is consuming', async () => {
    const taken: string[] = [];
    const reader = new DurableReader(link, spec(), createMemoryLog(), (msg) => {
      taken.push(msg.string());
      msg.ack();
    });
    reader.start();
    await eventually(
      async () => {
        await link.js.publish('metrics.samples.a', 'one');
        expect(taken).to.include('one');
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(await settlesWithin(reader.stop(), 10_000)).to.equal(true);
  });

  it('the live feed stops while its consumer is still being set up', async () => {
    const feed = new LiveFeed(link, createMemoryLog());
    // Listening starts the feed's consumer; the stop comes before it is consuming.
    await feed.listen(() => {});
    expect(await settlesWithin(feed.stop(), 10_000)).to.equal(true);
  });
});
