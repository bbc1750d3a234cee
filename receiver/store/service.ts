// Builds a running storage consumer: connections, the fold loop, and a small
// HTTP face for health and metrics. main.ts wires it to the process.
import { createHealthApp } from '../../deploy/runtime/health.ts';
import type { Listener } from '../../deploy/runtime/http.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import { connectNats, ensureSamplesStream } from '../../deploy/runtime/nats.ts';
import { RecordingStore } from '../../deploy/runtime/recording-store.ts';
import { connectRedis, isRedisReady } from '../../deploy/runtime/redis.ts';
import { listenWhileStarting } from '../../deploy/runtime/startup.ts';
import { createRegistry, publishStats } from '../../deploy/runtime/stats.ts';
import { type UpgradeResult, upgradeLayout } from '../../proto/store/upgrade.ts';
import { Folder } from '../fold.ts';
import { Checkpointer, createCheckpointCounters } from './checkpoint.ts';
import type { StoreConfig } from './config.ts';
import { createStoreCounters, StoreConsumer } from './consumer.ts';

export interface RunningStore {
  url: URL;
  consumer: StoreConsumer;
  checkpointer: Checkpointer;
  listener: Listener;
  /** Settles once Redis's history is all in the current layout (at once, unless it was older). */
  upgraded: Promise<UpgradeResult>;
  stop(): Promise<void>;
}

export function startStore(config: StoreConfig, log: Log): Promise<RunningStore> {
  if (config.deprecatedUrlSetting) {
    log.warn(`${config.deprecatedUrlSetting} is deprecated: name the setting STORE_URL instead`, {
      setting: config.deprecatedUrlSetting,
    });
  }
  return listenWhileStarting(config, log, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-store', log);
    startup.connected('nats');
    await ensureSamplesStream(nats.jsm, config.nats, log);
    const redis = await connectRedis(config.redis, 'loadstar-store', log);
    startup.connected('redis');
    const registry = createRegistry('store');
    const folder = new Folder(redis, config.fold, config.redis);
    const recording = await RecordingStore.open(nats.nc, config.nats.replicas);
    const stopWatch = await recording.watch((rules) => folder.useRules(rules), log);
    const consumer = new StoreConsumer(
      nats,
      folder,
      () => isRedisReady(redis),
      config.consumer,
      createStoreCounters(registry),
      log,
    );
    consumer.start();
    const checkpointer = new Checkpointer(
      nats,
      redis,
      folder,
      recording,
      createCheckpointCounters(registry),
      log,
      config.checkpointEveryMs,
      config.nats.replicas,
    );
    checkpointer.start();
    let stopped = false;
    const upgraded = upgradeUntilDone(
      () => upgradeLayout(redis, config.fold, log),
      log,
      () => stopped,
    );

    const app = createHealthApp(
      registry,
      () => ({ nats: nats.isConnected(), redis: isRedisReady(redis) }),
      log,
      config.metricsToken,
    );
    const { listener } = startup;
    startup.serve(app.callback());
    listener.countMalformed(registry);
    const stopStats = publishStats(
      registry,
      redis,
      `store:${listener.url.host}:${process.pid}`,
      log,
    );
    log.info('folding samples into Redis', {
      consumer: 'loadstar-store',
      health: listener.url.href,
    });
    return {
      url: listener.url,
      consumer,
      checkpointer,
      listener,
      upgraded,
      async stop() {
        stopped = true;
        await upgraded.catch(() => {});
        await checkpointer.stop();
        await consumer.stop();
        stopWatch();
        await listener.close();
        await stopStats();
        await nats.close();
        redis.disconnect();
      },
    };
  });
}

/** Runs the layout upgrade until it succeeds (Redis may be away for a while), or the service stops. */
async function upgradeUntilDone(
  upgrade: () => Promise<UpgradeResult>,
  log: Log,
  stopped: () => boolean,
): Promise<UpgradeResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upgrade();
    } catch (err) {
      if (stopped()) throw err;
      if (attempt === 1)
        log.warn('history upgrade failed; retrying', { error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * attempt, 10_000)));
    }
  }
}
