// The receiver's JetStream publisher when its NATS server goes away: a publish in
// flight on the dropped connection can never be acknowledged, so it fails at
// once (the receiver answers 503 and the agent retries on another receiver),
// not only when its deadline passes.
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import { eventually } from '../harness/eventually.ts';
import { removeDir, type ServerProcess, startNats } from '../harness/servers.ts';

describe('JetStream publisher', function () {
  this.timeout(30_000);
  let server: ServerProcess;
  let nc: NatsConnection;
  let silent: NatsConnection;

  before(async () => {
    server = await startNats();
    nc = await connect({
      servers: `127.0.0.1:${server.port}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    // Something takes the message and never answers, as a stream leader that dies does.
    silent = await connect({ servers: `127.0.0.1:${server.port}`, maxReconnectAttempts: 0 });
    silent.subscribe('loadstar.publish-test');
    await silent.flush();
  });
  after(async () => {
    await nc?.close();
    await silent?.close().catch(() => {});
    await server?.stop();
    if (server) removeDir(server.dir);
  });

  it('fails a publish in flight as soon as the connection drops, not at its deadline', async () => {
    // A deadline far beyond the test: only the dropped connection can end this publish.
    const publisher = new JetStreamPublisher(nc, 600_000);
    try {
      let outcome: Error | null = null;
      publisher
        .publish('loadstar.publish-test', 'x', 'id-1')
        .then(() => {
          outcome = new Error('acknowledged');
        })
        .catch((err: Error) => {
          outcome = err;
        });
      await nc.flush();
      await server.restart();
      const failed = await eventually(
        () => {
          expect(outcome).to.be.instanceOf(Error);
          return outcome!;
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      expect(failed.message).to.match(/connection .*dropped/);
    } finally {
      publisher.close();
    }
  });
});
