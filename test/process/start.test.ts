// `npm start` as an operator runs it: it provides NATS and Redis when none fit,
// runs every service, restarts one that crashes, and stops all on Ctrl-C.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { eventually } from '../harness/eventually.ts';
import { getJson, uniqueName } from '../harness/pipeline.ts';
import {
  childPids,
  commandLine,
  isAlive,
  runScript,
  type ServiceProcess,
} from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { freePort, removeDir, startPlainNats } from '../harness/servers.ts';

async function ports(n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => freePort()));
}

describe('npm start (the supervisor)', function () {
  this.timeout(120_000);

  it('starts its own servers when none fit, restarts a killed service, and stops everything on SIGINT', async () => {
    const plain = await startPlainNats();
    const [redisPort, r, c, g, grpc] = await ports(5);
    const host = uniqueName('started');
    const gateway = `http://127.0.0.1:${g}/`;
    const supervisor = runScript('deploy/supervise.ts', {
      // A NATS without JetStream at NATS_URL, nothing at REDIS_URL.
      NATS_URL: plain.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      RECEIVER_URL: `http://127.0.0.1:${r}/data`,
      STORE_URL: `http://127.0.0.1:${c}/`,
      WEB_SERVER_URL: gateway,
      GRPC_URL: `127.0.0.1:${grpc}`,
      INTERVAL: '0.2',
      HOST: host,
    });
    const latestTime = async () => {
      const res = await getJson(`${gateway}api/v1/latest?topics=cpu&host=${host}`);
      expect(res.status).to.equal(200);
      expect(res.body.cpu).to.not.equal(null);
      return res.body.cpu.time_ms as number;
    };
    try {
      await eventually(latestTime, { timeoutMs: 60_000, intervalMs: 250 });
      const out = supervisor.output();
      expect(out).to.include('has no JetStream; starting our own nats-server');
      expect(out).to.include('starting redis-server');
      expect(existsSync(join(supervisor.cwd, '.data', 'nats'))).to.equal(true);

      const children = await childPids(supervisor.child.pid!);
      const lines = await Promise.all(children.map(commandLine));
      const receiverPid = children[lines.findIndex((l) => l.includes('receiver/main.ts'))]!;
      expect(receiverPid).to.be.a('number');
      expect(lines.some((l) => l.includes('nats-server'))).to.equal(true);
      expect(lines.some((l) => l.includes('redis-server'))).to.equal(true);

      process.kill(receiverPid, 'SIGKILL');
      await eventually(
        () =>
          expect(supervisor.output()).to.match(/receiver exited \(SIGKILL\); restarting in 1 s/),
        {
          timeoutMs: 10_000,
        },
      );
      const before = await latestTime();
      await eventually(async () => expect(await latestTime()).to.be.greaterThan(before), {
        timeoutMs: 30_000,
        intervalMs: 250,
      });

      const all = await childPids(supervisor.child.pid!);
      supervisor.child.kill('SIGINT');
      expect(await supervisor.exited).to.equal(0);
      expect(supervisor.output()).to.include('all stopped');
      for (const pid of all)
        expect(
          isAlive(pid),
          `child ${pid} still running: ${await commandLine(pid)} ${await import('node:fs').then((f) => f.readFileSync(`/proc/${pid}/stat`, 'utf8')).catch(() => '')}`,
        ).to.equal(false);
    } finally {
      supervisor.child.kill('SIGKILL');
      await plain.stop();
      removeDir(plain.dir);
      removeDir(supervisor.cwd);
    }
  });

  it('ends every service and server it started within seconds of its own kill -9, and a new start takes over', async () => {
    const plain = await startPlainNats();
    const [redisPort, r, c, rules, g, grpc] = await ports(6);
    const host = uniqueName('orphan');
    const gateway = `http://127.0.0.1:${g}/`;
    const env = {
      // Nothing fit answers: it starts nats-server and redis-server of its own.
      NATS_URL: plain.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      RECEIVER_URL: `http://127.0.0.1:${r}/data`,
      STORE_URL: `http://127.0.0.1:${c}/`,
      RULES_URL: `http://127.0.0.1:${rules}/`,
      WEB_SERVER_URL: gateway,
      GRPC_URL: `127.0.0.1:${grpc}`,
      INTERVAL: '0.2',
      HOST: host,
    };
    const latestTime = async () => {
      const res = await getJson(`${gateway}api/v1/latest?topics=cpu&host=${host}`);
      expect(res.body.cpu).to.not.equal(null);
      return res.body.cpu.time_ms as number;
    };
    const first = runScript('deploy/supervise.ts', env);
    let again: ServiceProcess | undefined;
    try {
      await eventually(latestTime, { timeoutMs: 60_000, intervalMs: 250 });
      for (const port of [r, c, rules])
        await eventually(async () =>
          expect((await getJson(`http://127.0.0.1:${port}/readyz`)).status).to.equal(200),
        );
      const children = await childPids(first.child.pid!);
      const lines = await Promise.all(children.map(commandLine));
      for (const part of [
        'receiver/main.ts',
        'receiver/store/main.ts',
        'receiver/rules/main.ts',
        'gateway/main.ts',
        'producer/main.ts',
        'nats-server',
        'redis-server',
      ])
        expect(
          lines.filter((l) => l.includes(part)),
          part,
        ).to.have.length(1);

      const before = await latestTime();
      first.child.kill('SIGKILL');
      await eventually(
        async () => {
          for (const pid of children)
            expect(isAlive(pid), `still running: ${await commandLine(pid)}`).to.equal(false);
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      // Its lock is left behind, stale: the next start in the same directory takes over.
      expect(existsSync(join(first.cwd, '.data', 'supervisor.lock'))).to.equal(true);
      again = runScript('deploy/supervise.ts', env, [], { cwd: first.cwd });
      await eventually(async () => expect(await latestTime()).to.be.greaterThan(before), {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      expect(again.output()).to.include('taking over its lock');
      again.child.kill('SIGINT');
      expect(await again.exited).to.equal(0);
      expect(existsSync(join(first.cwd, '.data', 'supervisor.lock'))).to.equal(false);
    } finally {
      first.child.kill('SIGKILL');
      again?.child.kill('SIGKILL');
      await plain.stop();
      removeDir(plain.dir);
      removeDir(first.cwd);
    }
  });

  it('refuses a second start in the same directory with one line and exit 1, and keeps the first running', async () => {
    const [r, c, rules, g, grpc] = await ports(5);
    const env = {
      NATS_URL: shared.natsUrl,
      REDIS_URL: shared.redisUrl,
      RECEIVER_URL: `http://127.0.0.1:${r}/data`,
      STORE_URL: `http://127.0.0.1:${c}/`,
      RULES_URL: `http://127.0.0.1:${rules}/`,
      WEB_SERVER_URL: `http://127.0.0.1:${g}/`,
      GRPC_URL: `127.0.0.1:${grpc}`,
      HOST: uniqueName('twice'),
    };
    const first = runScript('deploy/supervise.ts', env);
    try {
      const health = `http://127.0.0.1:${g}/healthz`;
      await eventually(async () => expect((await getJson(health)).status).to.equal(200), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      const second = runScript('deploy/supervise.ts', env, [], { cwd: first.cwd });
      expect(await second.exited).to.equal(1);
      const lines = second.output().trim().split('\n');
      expect(lines, second.output()).to.have.length(1);
      expect(lines[0])
        .to.include('loadstar is already running here')
        .and.include(`supervisor PID ${first.child.pid}`);
      expect(isAlive(first.child.pid!)).to.equal(true);
      expect((await getJson(health)).status).to.equal(200);
      first.child.kill('SIGTERM');
      expect(await first.exited).to.equal(0);
    } finally {
      first.child.kill('SIGKILL');
      removeDir(first.cwd);
    }
  });

  it('uses NATS and Redis already answering when they are fit', async () => {
    const [r, c, g, grpc] = await ports(4);
    const supervisor = runScript('deploy/supervise.ts', {
      NATS_URL: shared.natsUrl,
      REDIS_URL: shared.redisUrl,
      RECEIVER_URL: `http://127.0.0.1:${r}/data`,
      STORE_URL: `http://127.0.0.1:${c}/`,
      WEB_SERVER_URL: `http://127.0.0.1:${g}/`,
      GRPC_URL: `127.0.0.1:${grpc}`,
      HOST: uniqueName('reuse'),
    });
    try {
      await eventually(() => expect(supervisor.output()).to.include('loadstar running'), {
        timeoutMs: 30_000,
      });
      expect(supervisor.output()).to.include(
        'using the NATS server already answering (JetStream on)',
      );
      expect(supervisor.output()).to.include('using the Redis server already answering');
      expect(supervisor.output()).to.not.include('starting nats-server');
      supervisor.child.kill('SIGTERM');
      expect(await supervisor.exited).to.equal(0);
    } finally {
      supervisor.child.kill('SIGKILL');
      removeDir(supervisor.cwd);
    }
  });

  it('says in one line how to install nats-server when it is missing', async () => {
    const supervisor = runScript('deploy/supervise.ts', {
      PATH: '/usr/bin:/bin',
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
    });
    expect(await supervisor.exited).to.equal(1);
    expect(supervisor.output()).to.include(
      "nats-server is not installed: run 'sudo apt-get install -y nats-server'",
    );
  });

  it('refuses a bad setting before starting anything, with exit status 2', async () => {
    const supervisor = runScript('deploy/supervise.ts', { WEB_SERVER_URL: 'ftp://example/' });
    expect(await supervisor.exited).to.equal(2);
    expect(supervisor.output().trim().split('\n')).to.have.length(1);
    expect(supervisor.output()).to.include('bad setting WEB_SERVER_URL');
  });
});
