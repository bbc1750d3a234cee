// Connections that need credentials: a nats-server with a user and password
// (or a token) and a redis-server with a password (or an ACL user), given in the
// URLs as operators write them. A sample flows end to end; a wrong password
// leaves a service up and not ready, saying why, and never in a crash loop.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import type { RunningStore } from '../../receiver/store/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  getJson,
  postSample,
  publishSample,
  receiverOn,
  storeOn,
  uniqueName,
} from '../harness/pipeline.ts';
import { isAlive, runScript, type ServiceProcess } from '../harness/processes.ts';
import {
  freePort,
  removeDir,
  type ServerProcess,
  startNats,
  startRedis,
} from '../harness/servers.ts';

// Characters that must be percent-encoded in a URL, so that decoding is part of what is shown.
const NATS_USER = 'loadstar';
const NATS_PASS = 'n@ts:pass/1 x';
const NATS_TOKEN = 'nats-token-0123456789';
const REDIS_PASS = 'r3dis:p@ss/w rd';
const REDIS_USER = 'agent';
const REDIS_USER_PASS = 'agent-pass-42';

/** `scheme://user:pass@host:port` with each part percent-encoded, as an operator writes it. */
function withLogin(url: string, user: string, pass?: string): string {
  const at = new URL(url);
  return `${at.protocol}//${encodeURIComponent(user)}${pass === undefined ? '' : `:${encodeURIComponent(pass)}`}@${at.host}`;
}

describe('connections with credentials', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let tokenNats: ServerProcess;
  let redis: ServerProcess;
  let env: Record<string, string>;

  before(async () => {
    [nats, tokenNats, redis] = await Promise.all([
      startNats({ user: NATS_USER, pass: NATS_PASS }),
      startNats({ token: NATS_TOKEN }),
      startRedis({
        password: REDIS_PASS,
        users: [`${REDIS_USER} on >${REDIS_USER_PASS} ~* &* +@all`],
      }),
    ]);
    env = {
      NATS_URL: withLogin(nats.url, NATS_USER, NATS_PASS),
      REDIS_URL: withLogin(redis.url, '', REDIS_PASS),
    };
  });
  after(async () => {
    for (const server of [nats, tokenNats, redis]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
  });

  describe('right credentials', () => {
    let receiver: RunningReceiver;
    let store: RunningStore;
    let gateway: RunningGateway;

    before(async () => {
      [receiver, store, gateway] = await Promise.all([
        receiverOn(env),
        storeOn(env),
        gatewayOn(env),
      ]);
    });
    after(() => Promise.all([receiver?.stop(), store?.stop(), gateway?.stop()]));

    it('carries a sample from the receiver to the gateway through a NATS and a Redis that want passwords', async () => {
      const host = uniqueName('cred');
      const posted = await postSample(receiver.url, { cpu: 12.5 }, { 'loadstar-host': host });
      expect(posted.status, JSON.stringify(posted.body)).to.equal(200);
      const read = await getJson(new URL(`?topics=cpu&host=${host}`, gateway.url));
      expect(read.text).to.equal('{"cpu":12.5}');
      for (const url of [
        new URL('/readyz', receiver.url),
        new URL('readyz', store.url),
        new URL('readyz', gateway.url),
      ]) {
        expect((await getJson(url)).body).to.deep.equal({ ready: true, nats: true, redis: true });
      }
    });

    it('has the storage consumer fold what only the stream holds, through both logins', async () => {
      const host = uniqueName('stream-only');
      // Straight into the stream, as a receiver that died before its own fold would leave it.
      const nc = await connect({
        servers: new URL(nats.url).host,
        user: NATS_USER,
        pass: NATS_PASS,
      });
      try {
        await publishSample(nc, {
          host,
          id: 's1',
          time: Date.now() - 1000,
          interval: 1,
          metrics: { mem: 3.25 },
        });
      } finally {
        await nc.close();
      }
      await eventually(async () =>
        expect((await getJson(new URL(`?topics=mem&host=${host}`, gateway.url))).text).to.equal(
          '{"mem":3.25}',
        ),
      );
    });

    it('logs in to Redis as an ACL user (redis://user:pass@) and to NATS with a token (nats://token@)', async () => {
      const other = await receiverOn({
        NATS_URL: withLogin(tokenNats.url, NATS_TOKEN),
        REDIS_URL: withLogin(redis.url, REDIS_USER, REDIS_USER_PASS),
      });
      try {
        const host = uniqueName('acl');
        const posted = await postSample(other.url, { swap: 1 }, { 'loadstar-host': host });
        expect(posted.status, JSON.stringify(posted.body)).to.equal(200);
        expect((await getJson(new URL(`?topics=swap&host=${host}`, gateway.url))).text).to.equal(
          '{"swap":1.0}',
        );
      } finally {
        await other.stop();
      }
    });
  });

  describe('a wrong password', () => {
    const services = [
      {
        name: 'receiver',
        file: 'receiver/main.ts',
        setting: 'RECEIVER_URL',
        path: '/data',
        readyz: '/readyz',
      },
      {
        name: 'store',
        file: 'receiver/store/main.ts',
        setting: 'STORE_URL',
        path: '/',
        readyz: '/readyz',
      },
      {
        name: 'gateway',
        file: 'gateway/main.ts',
        setting: 'WEB_SERVER_URL',
        path: '/',
        readyz: '/readyz',
      },
    ] as const;
    const wrong = [
      {
        part: 'NATS',
        say: /NATS.*Authorization Violation/,
        url: () => ({ NATS_URL: withLogin(nats.url, NATS_USER, 'not-the-password') }),
      },
      {
        part: 'Redis',
        say: /Redis.*WRONGPASS/,
        url: () => ({ REDIS_URL: withLogin(redis.url, '', 'not-the-password') }),
      },
    ] as const;
    const running: { proc: ServiceProcess; readyz: URL; key: string }[] = [];

    before(async () => {
      // All six at once: each needs a few seconds to show it neither gets ready nor exits.
      for (const service of services) {
        for (const w of wrong) {
          const port = await freePort();
          const url = `http://127.0.0.1:${port}${service.path}`;
          running.push({
            key: `${service.name} ${w.part}`,
            readyz: new URL(service.readyz, url),
            proc: runScript(service.file, {
              ...env,
              ...w.url(),
              [service.setting]: url,
              GRPC_URL: `127.0.0.1:${await freePort()}`,
            }),
          });
        }
      }
    });
    after(async () => {
      for (const { proc } of running) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    });

    for (const service of services) {
      for (const w of wrong) {
        it(`leaves the ${service.name} up and answering /readyz 503, with a log line naming ${w.part}'s refusal`, async () => {
          const { proc, readyz } = running.find((r) => r.key === `${service.name} ${w.part}`)!;
          const answer = await eventually(
            async () => {
              if (!isAlive(proc.child.pid!))
                throw new Error(`exited: ${proc.output().slice(-500)}`);
              const got = await getJson(readyz);
              expect(got.status).to.equal(503);
              return got;
            },
            { timeoutMs: 20_000, intervalMs: 200 },
          );
          expect(answer.body.ready).to.equal(false);
          expect(answer.body[w.part.toLowerCase()]).to.equal(false);
          await eventually(() => expect(proc.output()).to.match(w.say), { timeoutMs: 10_000 });
          // The refusal has happened and the process is still there, not ready: a service that
          // gave up on it would have exited (status 1) right after saying so.
          expect((await getJson(readyz)).status).to.equal(503);
          expect(isAlive(proc.child.pid!), proc.output().slice(-500)).to.equal(true);
          expect(proc.output()).not.to.include('could not start');
          expect(proc.output()).not.to.include(NATS_PASS).and.not.to.include(REDIS_PASS);
        });
      }
    }

    it('gets ready once Redis takes the password it was given, as the same process', async () => {
      const admin = new Redis(redis.port, '127.0.0.1', { password: REDIS_PASS });
      try {
        // The operator puts the server right (here: makes the wrong password the right one).
        await admin.config('SET', 'requirepass', 'not-the-password');
        for (const { proc, readyz } of running.filter((r) => r.key.endsWith('Redis'))) {
          const pid = proc.child.pid!;
          await eventually(async () => expect((await getJson(readyz)).status).to.equal(200), {
            timeoutMs: 20_000,
            intervalMs: 200,
          });
          expect(proc.child.pid).to.equal(pid);
          expect(isAlive(pid)).to.equal(true);
        }
      } finally {
        admin.disconnect();
      }
    });
  });
});
