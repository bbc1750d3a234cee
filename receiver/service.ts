// Builds a running receiver from its settings: connections, ingest, HTTP.
// main.ts wires it to the process; tests build the same on their own ports.

import type { Listener } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import { connectNats, ensureSamplesStream } from '../deploy/runtime/nats.ts';
import { JetStreamPublisher } from '../deploy/runtime/publish.ts';
import { RecordingStore } from '../deploy/runtime/recording-store.ts';
import { connectRedis, isRedisReady } from '../deploy/runtime/redis.ts';
import { listenWhileStarting } from '../deploy/runtime/startup.ts';
import { createRegistry, publishStats } from '../deploy/runtime/stats.ts';
import type { ReceiverConfig } from './config.ts';
import { Folder } from './fold.ts';
import { createReceiverApp } from './http.ts';
import { createIngestCounters, Ingest } from './ingest.ts';

export interface RunningReceiver {
  url: URL;
  listener: Listener;
  stop(): Promise<void>;
}

export function startReceiver(config: ReceiverConfig, log: Log): Promise<RunningReceiver> {
  return listenWhileStarting(config, log, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-receiver', log);
    startup.connected('nats');
    await ensureSamplesStream(nats.jsm, config.nats, log);
    const redis = await connectRedis(config.redis, 'loadstar-receiver', log);
    startup.connected('redis');
    const registry = createRegistry('receiver');
    const counters = createIngestCounters(registry);
    const folder = new Folder(redis, config.fold, config.redis);
    const recording = await RecordingStore.open(nats.nc, config.nats.replicas);
    const stopWatch = await recording.watch((rules) => folder.useRules(rules), log);
    const publisher = new JetStreamPublisher(nats.nc);
    const ingest = new Ingest(
      nats,
      publisher,
      folder,
      () => isRedisReady(redis),
      {
        horizonMs: config.fold.horizonMs,
        maxClockSkewMs: config.limits.maxClockSkewMs,
        duplicateWindowMs: config.nats.duplicateWindowMs,
        maxInFlight: config.limits.maxInFlight,
      },
      counters,
      log,
    );
    const app = createReceiverApp({
      path: config.url.pathname,
      gatewayUrl: config.gatewayUrl,
      limits: config.limits,
      ingest,
      counters,
      registry,
      readiness: () => ({ nats: nats.isConnected(), redis: isRedisReady(redis) }),
      metricsToken: config.metricsToken,
      redis,
      log,
    });
    const { listener } = startup;
    startup.serve(app.callback());
    listener.countMalformed(registry);
    const stopStats = publishStats(
      registry,
      redis,
      `receiver:${listener.url.host}:${process.pid}`,
      log,
    );
    log.info('receiving samples', { url: listener.url.href });
    return {
      url: listener.url,
      listener,
      async stop() {
        // Answer what is in flight first: each of those posts still needs NATS and Redis.
        await listener.close();
        publisher.close();
        stopWatch();
        await stopStats();
        await nats.close();
        redis.disconnect();
      },
    };
  });
}
