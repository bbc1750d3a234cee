// Builds a running rules consumer: connections, the incidents stream, the
// evaluation loop, and a small HTTP face for health and metrics.
import { createHealthApp } from '../../proto/health.ts';
import type { Listener } from '../../proto/http.ts';
import type { Log } from '../../proto/log.ts';
import { connectNats, ensureIncidentsStream, ensureSamplesStream } from '../../proto/nats.ts';
import { connectRedis, isRedisReady } from '../../proto/redis.ts';
import { listenWhileStarting } from '../../proto/startup.ts';
import { createRegistry, publishStats } from '../../proto/stats.ts';
import { JetStreamPublisher } from '../publish.ts';
import type { RulesConfig } from './config.ts';
import { createRulesCounters, RulesConsumer } from './consumer.ts';
import { RuleEvaluator } from './evaluator.ts';

export interface RunningRules {
  url: URL;
  consumer: RulesConsumer;
  stop(): Promise<void>;
}

export function startRules(config: RulesConfig, log: Log): Promise<RunningRules> {
  return listenWhileStarting(config.url, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-rules', log);
    startup.connected('nats');
    await ensureSamplesStream(nats.jsm, config.nats, log);
    await ensureIncidentsStream(nats.jsm, config.nats, config.retentionMs, log);
    const redis = await connectRedis(config.redis, 'loadstar-rules', log);
    startup.connected('redis');
    const registry = createRegistry('rules');
    const publisher = new JetStreamPublisher(nats.nc);
    const consumer = new RulesConsumer(
      nats,
      new RuleEvaluator(redis, config.rules, config.retentionMs),
      publisher,
      createRulesCounters(registry),
      log,
    );
    consumer.start();

    const app = createHealthApp(
      registry,
      () => ({ nats: nats.isConnected(), redis: isRedisReady(redis) }),
      log,
    );
    const listener: Listener = startup.listener;
    startup.serve(app.callback());
    listener.countMalformed(registry);
    const stopStats = publishStats(
      registry,
      redis,
      `rules:${listener.url.host}:${process.pid}`,
      log,
    );
    log.info('evaluating incident rules', {
      rules: config.rules.map((r) => r.name).join(','),
      from: config.rulesFrom,
      health: listener.url.href,
    });
    return {
      url: listener.url,
      consumer,
      async stop() {
        await consumer.stop();
        publisher.close();
        await listener.close();
        await stopStats();
        await nats.close();
        redis.disconnect();
      },
    };
  });
}
