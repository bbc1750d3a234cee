// Mocha root hooks: one nats-server and one redis-server for the whole run,
// on free ports; stopped (by PID) when the run ends. Tests keep apart by using
// unique host and metric names. Their URLs travel in the environment, so every
// test module sees them however the loader instantiated this file.
import { removeDir, type ServerProcess, startNats, startRedis } from './servers.ts';

const started: ServerProcess[] = [];

export const shared = {
  get natsUrl(): string {
    return required('LOADSTAR_TEST_NATS_URL');
  },
  get redisUrl(): string {
    return required('LOADSTAR_TEST_REDIS_URL');
  },
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the mocha root hooks did not start the servers`);
  return value;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    started.push(nats, redis);
    process.env.LOADSTAR_TEST_NATS_URL = nats.url;
    process.env.LOADSTAR_TEST_REDIS_URL = redis.url;
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    for (const server of started) {
      await server.stop();
      removeDir(server.dir);
    }
  },
};
