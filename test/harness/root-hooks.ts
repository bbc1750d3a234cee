// Mocha root hooks: one nats-server and one redis-server for the whole run,
// on free ports; stopped (by PID) when the run ends. Tests keep apart by using
// unique host and metric names.
import { removeDir, type ServerProcess, startNats, startRedis } from './servers.ts';

export const shared: { nats?: ServerProcess; redis?: ServerProcess } = {};

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    [shared.nats, shared.redis] = await Promise.all([startNats(), startRedis()]);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    for (const server of [shared.nats, shared.redis]) {
      if (!server) continue;
      await server.stop();
      removeDir(server.dir);
    }
  },
};
