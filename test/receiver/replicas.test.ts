// REDIS_WAIT_REPLICAS: a fold counts as done only once a replica holds it, so a
// primary that dies right after (a Redis Cluster failover) loses nothing that was
// acknowledged. Shown on a primary with one replica of its own, on loopback.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLog } from '../../deploy/runtime/log.ts';
import { connectRedis } from '../../deploy/runtime/redis.ts';
import { Folder } from '../../receiver/fold.ts';
import { eventually } from '../harness/eventually.ts';
import { uniqueName } from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startRedis } from '../harness/servers.ts';

const RETENTION = {
  horizonMs: 86_400_000,
  rawRetentionMs: 86_400_000,
  minuteRetentionMs: 86_400_000,
};

describe('folds held by a replica (REDIS_WAIT_REPLICAS)', function () {
  this.timeout(30_000);
  const log = createLog('test', { level: 'error' });
  let primary: ServerProcess;
  let replica: ServerProcess;
  let client: Redis;

  before(async () => {
    primary = await startRedis();
    replica = await startRedis({}, ['--replicaof', '127.0.0.1', String(primary.port)]);
    client = (await connectRedis({ urls: [new URL(primary.url)] }, 'test', log)) as Redis;
    await eventually(async () =>
      expect(await client.info('replication')).to.match(/connected_slaves:1\b/),
    );
    // The link is up once the replica has acknowledged an offset.
    await eventually(async () => expect(await client.wait(1, 100)).to.equal(1));
  });
  after(async () => {
    client?.disconnect();
    replica?.process.kill('SIGCONT');
    for (const server of [replica, primary]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
  });

  /** How many WAIT commands the primary has run: shows whether a fold waited, without timing it. */
  const waits = async () =>
    Number(/cmdstat_wait:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);

  const sample = (host: string, id: string) => ({
    host,
    id,
    time: Date.now(),
    interval: 1,
    metrics: { cpu: 42.5 },
  });

  it('resolves once the replica acknowledged the fold, and counts nothing unreplicated', async () => {
    const folder = new Folder(client, RETENTION, { replicaAcks: 1, replicaAckTimeoutMs: 2_000 });
    const before = await waits();
    expect(await folder.fold(sample(uniqueName('wait'), 's1'))).to.equal('folded');
    expect(await waits()).to.equal(before + 1);
    expect(folder.unreplicated).to.equal(0);
  });

  it('waits up to REDIS_WAIT_TIMEOUT for a replica that does not answer, then goes on without waiting for a while, counting it', async () => {
    const folder = new Folder(client, RETENTION, { replicaAcks: 1, replicaAckTimeoutMs: 400 });
    const host = uniqueName('paused-replica');
    replica.process.kill('SIGSTOP');
    try {
      const started = performance.now();
      expect(await folder.fold(sample(host, 's1'))).to.equal('folded');
      // Without WAIT the fold returns in about a millisecond and counts nothing.
      expect(performance.now() - started).to.be.at.least(350);
      expect(folder.unreplicated).to.equal(1);
      // The next folds do not wait again for a while: one WAIT after another would stall every host.
      const before = await waits();
      expect(await folder.fold(sample(host, 's2'))).to.equal('folded');
      expect(await waits()).to.equal(before);
      expect(folder.unreplicated).to.equal(2);
    } finally {
      replica.process.kill('SIGCONT');
    }
    // The fold was done all the same; the replica catches up once it runs again.
    await eventually(async () => expect(await client.wait(1, 100)).to.equal(1));
    expect(await client.hget(`ls:{${host}}:latest`, 'cpu')).to.be.a('string');
  });

  it('does not wait at all with REDIS_WAIT_REPLICAS=0 (the single-server default)', async () => {
    const folder = new Folder(client, RETENTION);
    const before = await waits();
    expect(await folder.fold(sample(uniqueName('no-wait'), 's1'))).to.equal('folded');
    expect(await waits()).to.equal(before);
    expect(folder.unreplicated).to.equal(0);
  });
});
