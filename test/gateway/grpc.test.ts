import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import type { NatsConnection } from 'nats';
import type { RunningGateway } from '../../gateway/service.ts';
import {
  createLoadstarClient,
  type IncidentEvent__Output,
  type LatestReply__Output,
  type LoadstarClient,
  type SampleEvent__Output,
} from '../../proto/grpc.ts';
import {
  INCIDENTS_STREAM,
  type Incident,
  type IncidentEvent,
  incidentSubject,
} from '../../proto/incident.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  natsClient,
  postSample,
  publishSample,
  receiverOn,
  uniqueName,
} from '../harness/pipeline.ts';

function latest(client: LoadstarClient, topics: string[], host = ''): Promise<LatestReply__Output> {
  return new Promise((resolve, reject) =>
    client.Latest({ topics, host }, (err, reply) => (err ? reject(err) : resolve(reply!))),
  );
}

/** Collects a subscription's events until `count` arrived. */
function collect(
  stream: grpc.ClientReadableStream<SampleEvent__Output>,
  count: number,
): Promise<SampleEvent__Output[]> {
  const events: SampleEvent__Output[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (e: SampleEvent__Output) => {
      events.push(e);
      if (events.length === count) resolve(events);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
  });
}

/** Resolves once the gateway's live feed has this many listeners (the subscription is in place). */
async function subscribed(gateway: RunningGateway, listeners: number): Promise<void> {
  await eventually(() => expect(gateway.feed.listenerCount).to.be.at.least(listeners));
}

describe('gateway gRPC', function () {
  this.timeout(30_000);
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let client: LoadstarClient;
  let nc: NatsConnection;

  before(async () => {
    [receiver, gateway] = await Promise.all([receiverOn(), gatewayOn()]);
    client = createLoadstarClient(gateway.grpcAddress);
    nc = await natsClient();
  });
  after(async () => {
    client.close();
    await nc.close();
    await Promise.all([receiver.stop(), gateway.stop()]);
  });

  describe('Latest', () => {
    it('answers the newest reading per topic and lists the missing ones', async () => {
      const host = uniqueName('grpc');
      const metric = uniqueName('m');
      const time = Date.now() - 100;
      await postSample(
        receiver.url,
        { [metric]: 1.5 },
        { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '2' },
      );
      const reply = await latest(client, [metric, 'nothing-yet'], host);
      expect(reply.missing).to.deep.equal(['nothing-yet']);
      expect(reply.readings).to.have.length(1);
      expect(reply.readings[0]).to.deep.include({
        topic: metric,
        value: 1.5,
        host,
        time_ms: String(time),
        interval_seconds: 2,
        stale: false,
      });
      const any = await latest(client, [metric]);
      expect(any.readings[0]!.host).to.equal(host);
    });

    it('answers INVALID_ARGUMENT naming a bad topic', async () => {
      const err = await latest(client, ['c p u']).catch((e: grpc.ServiceError) => e);
      expect((err as grpc.ServiceError).code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect((err as grpc.ServiceError).details).to.include("'c p u'");
      const none = await latest(client, []).catch((e: grpc.ServiceError) => e);
      expect((none as grpc.ServiceError).code).to.equal(grpc.status.INVALID_ARGUMENT);
    });
  });

  describe('Subscribe', () => {
    it('streams matching samples published after the call, filtered by host and topic, in order per host', async () => {
      const [a, b, other] = [uniqueName('a'), uniqueName('b'), uniqueName('other')];
      const before = gateway.feed.listenerCount;
      const stream = client.Subscribe({ hosts: [a, b], topics: ['seq'] });
      const events = collect(stream, 40);
      await subscribed(gateway, before + 1);
      const t = Date.now() - 10_000;
      for (let i = 0; i < 20; i++) {
        for (const host of [a, b, other]) {
          await publishSample(nc, {
            host,
            id: `i${i}`,
            time: t + i,
            interval: 1,
            metrics: { seq: i, noise: 1 },
          });
        }
      }
      const got = await events;
      stream.cancel();
      expect(got.every((e) => e.host === a || e.host === b)).to.equal(true);
      expect(got.every((e) => Object.keys(e.metrics).join() === 'seq')).to.equal(true);
      for (const host of [a, b]) {
        expect(got.filter((e) => e.host === host).map((e) => e.metrics.seq)).to.deep.equal([
          ...Array(20).keys(),
        ]);
      }
      const seqs = got.map((e) => Number(e.seq));
      expect(seqs).to.deep.equal([...seqs].sort((x, y) => x - y));
    });

    it('resumes from a stream position with nothing missed and nothing twice', async () => {
      const host = uniqueName('resume');
      const t = Date.now() - 10_000;
      const before = gateway.feed.listenerCount;
      const first = client.Subscribe({ hosts: [host] });
      const firstEvents = collect(first, 5);
      await subscribed(gateway, before + 1);
      for (let i = 0; i < 5; i++)
        await publishSample(nc, {
          host,
          id: `r${i}`,
          time: t + i,
          interval: 1,
          metrics: { seq: i },
        });
      const seen = await firstEvents;
      first.cancel();
      // While disconnected, more samples arrive.
      for (let i = 5; i < 12; i++)
        await publishSample(nc, {
          host,
          id: `r${i}`,
          time: t + i,
          interval: 1,
          metrics: { seq: i },
        });
      const last = Number(seen.at(-1)!.seq);
      const resumed = client.Subscribe({ hosts: [host], from_seq: last + 1 });
      const rest = await collect(resumed, 7);
      resumed.cancel();
      expect([...seen, ...rest].map((e) => e.metrics.seq)).to.deep.equal([...Array(12).keys()]);
    });

    it('answers INVALID_ARGUMENT for a bad host filter', async () => {
      const stream = client.Subscribe({ hosts: ['bad host'] });
      const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(err.details).to.include("'bad host'");
    });
  });
});

describe('gateway gRPC with a slow subscriber', function () {
  this.timeout(60_000);

  it('cuts off a subscriber that stops reading with RESOURCE_EXHAUSTED, while others get everything', async () => {
    const gateway = await gatewayOn({ SUBSCRIBER_BUFFER: '50' });
    // Two connections, as two subscriber processes would have: one HTTP/2 connection is one flow-control window.
    const client = createLoadstarClient(gateway.grpcAddress, undefined, {
      'grpc.use_local_subchannel_pool': 1,
    });
    const slowClient = createLoadstarClient(gateway.grpcAddress, undefined, {
      'grpc.use_local_subchannel_pool': 1,
    });
    const nc = await natsClient();
    try {
      const host = uniqueName('flood');
      const slow = slowClient.Subscribe({ hosts: [host] });
      const status = new Promise<grpc.ServiceError>((resolve) => slow.on('error', resolve));
      // A client that read at first and then stopped reading.
      slow.on('data', () => {});
      slow.pause();
      const fast = client.Subscribe({ hosts: [host] });
      const total = 300;
      const fastEvents = collect(fast, total);
      let received = 0;
      fast.on('data', () => {
        received++;
      });
      await subscribed(gateway, 2);
      // Wide samples fill the HTTP/2 windows quickly, so the paused call's buffer must fill.
      const metrics = Object.fromEntries(
        Array.from({ length: 300 }, (_, i) => [`metric.with.a.long.name.${i}`, i + 0.5]),
      );
      const t = Date.now() - 60_000;
      // Published at the pace of the reading subscriber: it keeps up, the paused one cannot.
      for (let i = 0; i < total; i++) {
        await publishSample(nc, { host, id: `f${i}`, time: t + i, interval: 1, metrics });
        await eventually(() => expect(received).to.equal(i + 1));
      }
      expect(await fastEvents).to.have.length(total);
      slow.resume();
      const err = await status;
      expect(err.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).to.match(/too slow.*resume with from_seq=\d+/);
      fast.cancel();
    } finally {
      client.close();
      slowClient.close();
      await nc.close();
      await gateway.stop();
    }
  });
});

describe('gateway gRPC "from now" (from_seq = 0)', function () {
  this.timeout(60_000);
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let client: LoadstarClient;
  let nc: NatsConnection;

  // A gateway of its own: its live feed is not running yet when the first round subscribes.
  before(async () => {
    [receiver, gateway] = await Promise.all([receiverOn(), gatewayOn()]);
    client = createLoadstarClient(gateway.grpcAddress);
    nc = await natsClient();
  });
  after(async () => {
    client.close();
    await nc.close();
    await Promise.all([receiver.stop(), gateway.stop()]);
  });

  it('Subscribe delivers a sample posted just after the call and never one posted just before', async () => {
    const baseline = gateway.feed.listenerCount;
    // The first round starts the live feed, the later ones join it running.
    for (let round = 0; round < 8; round++) {
      await eventually(() => expect(gateway.feed.listenerCount).to.equal(baseline));
      const host = uniqueName('exact');
      const post = async (n: number) =>
        expect((await postSample(receiver.url, { n }, { 'Loadstar-Host': host })).status).to.equal(
          200,
        );
      await post(0);
      const stream = client.Subscribe({ hosts: [host] });
      const first = collect(stream, 1);
      await subscribed(gateway, baseline + 1);
      await post(1);
      const [event] = await first;
      stream.cancel();
      // Events come in stream order: had the sample from before the call been sent, it would be first.
      expect(event!.metrics, `round ${round}`).to.deep.equal({ n: 1 });
    }
  });

  it('WatchIncidents delivers an event published just after the call and never one just before', async () => {
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    for (let round = 0; round < 4; round++) {
      const host = uniqueName('watch-exact');
      const publish = (rule: string) => {
        const incident: Incident = {
          id: uniqueName('id'),
          rule,
          kind: 'threshold',
          host,
          metric: 'cpu',
          severity: 'warning',
          state: 'open',
          opened_at_ms: Date.now(),
          resolved_at_ms: null,
          resolution: null,
          aggregate: 'avg',
          op: '>',
          threshold: 90,
          resolve_threshold: 85.5,
          window: '3 samples',
          min: 91,
          avg: 95,
          max: 99,
          samples: 3,
          trigger: [[Date.now(), 95]],
        };
        const event: IncidentEvent = { transition: 'opened', incident };
        return js.publish(incidentSubject(host), JSON.stringify(event));
      };
      await publish('before');
      const stream = client.WatchIncidents({ hosts: [host] });
      const got: IncidentEvent__Output[] = [];
      stream.on('data', (e: IncidentEvent__Output) => got.push(e));
      stream.on('error', () => {});
      // The watch is in place once its consumer on this host's subject exists.
      await eventually(async () => {
        const consumers = await jsm.consumers.list(INCIDENTS_STREAM).next();
        expect(consumers.some((c) => c.config.filter_subject === incidentSubject(host))).to.equal(
          true,
        );
      });
      await publish('after');
      await eventually(() => expect(got).to.have.length.at.least(1));
      stream.cancel();
      expect(got[0]!.incident!.rule, `round ${round}`).to.equal('after');
    }
  });
});
