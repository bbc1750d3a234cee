// REDIS_URL naming Redis Sentinels: the receiver finds the primary through them,
// and after the primary dies and a Sentinel promotes its replica, it stores
// samples on the new primary without a restart or a change of settings.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Folder } from '../../receiver/fold.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { freePort, removeDir, type ServerProcess, startRedis } from '../harness/servers.ts';

const PRIMARY_NAME = 'loadstar';

function portAnswers(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('Redis behind Sentinel (REDIS_URL=redis-sentinel://…/<primary>)', function () {
  this.timeout(60_000);
  let primary: ServerProcess;
  let replica: ServerProcess;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;
  let receiver: RunningReceiver;

  before(async () => {
    primary = await startRedis();
    replica = await startRedis({}, ['--replicaof', '127.0.0.1', String(primary.port)]);
    // The replica holds the primary's data from here on (its first sync is done).
    const admin = new Redis(primary.port, '127.0.0.1');
    try {
      await eventually(async () => expect(await admin.wait(1, 100)).to.equal(1));
    } finally {
      admin.disconnect();
    }
    dir = mkdtempSync(join(tmpdir(), 'loadstar-sentinel-'));
    sentinelPort = await freePort();
    // Sentinel rewrites its own config file: it must be one it may write.
    writeFileSync(
      join(dir, 'sentinel.conf'),
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${PRIMARY_NAME} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${PRIMARY_NAME} 1000`,
        `sentinel failover-timeout ${PRIMARY_NAME} 5000`,
        '',
      ].join('\n'),
    );
    sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], {
      stdio: 'ignore',
    });
    await eventually(() => portAnswers(sentinelPort), { timeoutMs: 10_000, intervalMs: 50 });
    receiver = await receiverOn({
      REDIS_URL: `redis-sentinel://127.0.0.1:${sentinelPort}/${PRIMARY_NAME}`,
    });
  });
  after(async () => {
    await receiver?.stop();
    sentinel?.kill('SIGKILL');
    for (const server of [replica, primary]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
    if (dir) removeDir(dir);
  });

  it('stores a sample on the primary the Sentinel names, and on the replica it promotes after the primary dies', async () => {
    const host = uniqueName('sentinel');
    const post = (id: string) =>
      postSample(receiver.url, { cpu: 7 }, { 'Loadstar-Host': host, 'Loadstar-Sample-Id': id });
    expect((await post('before')).status).to.equal(200);
    const direct = new Redis(primary.port, '127.0.0.1');
    try {
      expect(await direct.hget(`ls:{${host}}:latest`, 'cpu')).to.be.a('string');
    } finally {
      direct.disconnect();
    }
    await primary.stop('SIGKILL');
    // Sentinel sees the primary down after 1 s and promotes the replica; the receiver follows.
    await eventually(async () => expect((await post('after')).status).to.equal(200), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    const promoted = new Redis(replica.port, '127.0.0.1');
    try {
      expect(await promoted.info('replication')).to.match(/role:master/);
      // Both samples are in the promoted replica's dedup record.
      const folder = new Folder(promoted, {
        horizonMs: 86_400_000,
        rawRetentionMs: 86_400_000,
        minuteRetentionMs: 86_400_000,
      });
      for (const id of ['before', 'after'])
        expect(await folder.isFoldedId(host, id), id).to.equal(true);
      expect(await folder.isFoldedId(host, 'never-posted')).to.equal(false);
    } finally {
      promoted.disconnect();
    }
  });
});
