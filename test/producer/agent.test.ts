import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { type RunningAgent, startAgent } from '../../producer/agent.ts';
import { readProducerConfig } from '../../producer/config.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { history, receiverOn, redisClient, uniqueName } from '../harness/pipeline.ts';
import { freePort } from '../harness/servers.ts';

/** A source whose metric `seq` counts collections: what the agent created is known exactly. */
class CountingSource implements Source {
  readonly name = 'counter';
  count: number;
  constructor(
    private readonly host: string,
    start = 0,
  ) {
    this.count = start;
  }
  async collect(): Promise<PartialRecord[]> {
    this.count++;
    return [{ host: this.host, metrics: { seq: this.count } }];
  }
}

function agentConfig(receiverUrl: string, spoolDir: string, extra: Record<string, string> = {}) {
  return readProducerConfig({
    RECEIVER_URL: receiverUrl,
    INTERVAL: '0.05',
    SPOOL_DIR: spoolDir,
    ...extra,
  });
}

describe('agent delivery', function () {
  this.timeout(60_000);
  let redis: Redis;
  before(() => {
    redis = redisClient();
  });
  after(() => redis.disconnect());

  it('keeps samples on disk through a receiver outage and an agent restart, then delivers all once, in order', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/data`;
    const host = uniqueName('outage');
    const spoolDir = mkdtempSync(join(tmpdir(), 'loadstar-agent-'));
    let receiver: RunningReceiver = await receiverOn({ RECEIVER_URL: url });
    const counter = new CountingSource(host);
    const log = createMemoryLog('producer');
    let agent: RunningAgent = await startAgent(agentConfig(url, spoolDir), [counter], log);
    try {
      await eventually(async () =>
        expect(await history(redis, host, 'seq')).to.have.length.at.least(5),
      );
      await receiver.stop();
      await eventually(() => expect(agent.spool.depth).to.be.at.least(20));
      // The agent itself restarts during the outage: its spool survives on disk.
      await agent.stop(0);
      const held = agent.spool.depth;
      const counter2 = new CountingSource(host, counter.count);
      agent = await startAgent(agentConfig(url, spoolDir), [counter2], log);
      expect(agent.spool.depth).to.be.at.least(held);
      await eventually(() => expect(counter2.count).to.be.at.least(counter.count + 10));
      receiver = await receiverOn({ RECEIVER_URL: url });
      await eventually(() => expect(agent.spool.depth).to.equal(0), { timeoutMs: 20_000 });
      await agent.stop();
      const created = counter2.count;
      await eventually(async () =>
        expect(await history(redis, host, 'seq')).to.have.length(created),
      );
      const points = await history(redis, host, 'seq');
      expect(points.map(([, v]) => v)).to.deep.equal(
        Array.from({ length: created }, (_, i) => i + 1),
      );
      const times = points.map(([t]) => t);
      expect(times).to.deep.equal([...times].sort((a, b) => a - b));
      expect(new Set(times).size).to.equal(created);
      expect(log.lines.join('')).to.include('receiver unavailable; keeping samples in the spool');
      expect(log.lines.join('')).to.include('delivering the backlog');
    } finally {
      await agent.stop(0);
      await receiver.stop();
    }
  });

  describe('against a receiver that answers with errors', () => {
    let server: Server;
    let url: string;
    const requests: { path: string; body: string; id: string }[] = [];
    let answer: (req: IncomingMessage) => {
      status: number;
      body: string;
      headers?: Record<string, string>;
    };

    before(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          requests.push({
            path: req.url ?? '',
            body,
            id: String(req.headers['loadstar-sample-id']),
          });
          const a = answer(req);
          res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
          res.end(a.body);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => {
      requests.length = 0;
    });

    it('logs a 4xx loudly and does not retry it', async () => {
      answer = () => ({ status: 400, body: '{"error":"metric \'seq\' is wrong"}' });
      const log = createMemoryLog('producer');
      const counter = new CountingSource(uniqueName('refused'));
      const agent = await startAgent(
        agentConfig(url, mkdtempSync(join(tmpdir(), 'loadstar-agent-'))),
        [counter],
        log,
      );
      await eventually(() => expect(agent.sender.counters.rejected).to.be.at.least(3));
      await agent.stop(0);
      expect(log.lines.join('')).to.match(
        /ERROR .*receiver refused the post: this is a bug, not retried/,
      );
      expect(log.lines.join('')).to.include("metric 'seq' is wrong");
      // One request per sample: nothing was retried.
      const sent = requests.map((r) => JSON.parse(r.body).seq as number);
      expect(new Set(sent).size).to.equal(sent.length);
      expect(agent.spool.depth).to.equal(0);
    });

    it('retries a 503 after its Retry-After and delivers the same sample id', async () => {
      let failures = 2;
      answer = () =>
        failures-- > 0
          ? {
              status: 503,
              body: '{"error":"NATS is not reachable"}',
              headers: { 'retry-after': '0.1' },
            }
          : { status: 200, body: '{"accepted":1}' };
      const once = new CountingSource(uniqueName('retried'));
      // One sample only, so every request seen is a retry of it.
      const source: Source = {
        name: 'once',
        collect: async () => (once.count === 0 ? once.collect() : []),
      };
      const agent = await startAgent(
        agentConfig(url, mkdtempSync(join(tmpdir(), 'loadstar-agent-'))),
        [source],
        createMemoryLog(),
      );
      await eventually(() => expect(agent.sender.counters.sent).to.equal(1));
      await agent.stop(0);
      expect(requests).to.have.length(3);
      expect(new Set(requests.map((r) => r.body)).size).to.equal(1);
      expect(new Set(requests.map((r) => r.id)).size).to.equal(1);
      expect(agent.sender.counters.retries).to.equal(2);
    });

    it('fails over to the next receiver URL when one is down', async () => {
      answer = () => ({ status: 200, body: '{"accepted":1}' });
      const dead = `http://127.0.0.1:${await freePort()}/data`;
      const log = createMemoryLog();
      const counter = new CountingSource(uniqueName('failover'));
      const agent = await startAgent(
        agentConfig(`${dead},${url}`, mkdtempSync(join(tmpdir(), 'loadstar-agent-'))),
        [counter],
        log,
      );
      await eventually(() => expect(agent.sender.counters.sent).to.be.at.least(3));
      await agent.stop(0);
      expect(log.lines.join('')).to.include('trying the next receiver');
    });
  });
});
