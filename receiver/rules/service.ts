// Builds a running rules consumer: connections, the incidents stream, the
// evaluation loop, the absence clock, the rules file watch (SIGHUP or a change
// reloads it), and a small HTTP face for health and metrics.
import { createHealthApp } from '../../deploy/runtime/health.ts';
import type { Listener } from '../../deploy/runtime/http.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import {
  connectNats,
  ensureIncidentsStream,
  ensureSamplesStream,
} from '../../deploy/runtime/nats.ts';
import { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import { connectRedis, isRedisReady } from '../../deploy/runtime/redis.ts';
import { FileReloader } from '../../deploy/runtime/reload.ts';
import { listenWhileStarting } from '../../deploy/runtime/startup.ts';
import { createRegistry, publishStats } from '../../deploy/runtime/stats.ts';
import { AbsenceWatch, createAbsenceCounters } from './absence.ts';
import type { RulesConfig } from './config.ts';
import { createRulesCounters, RulesConsumer } from './consumer.ts';
import { RuleEvaluator } from './evaluator.ts';
import { parseRules, type Rule, ruleNames } from './rules.ts';

export interface RunningRules {
  url: URL;
  consumer: RulesConsumer;
  absence: AbsenceWatch;
  /** Re-reads RULES_FILE now (as SIGHUP does); resolves once it is in force or refused. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export function startRules(config: RulesConfig, log: Log): Promise<RunningRules> {
  return listenWhileStarting(config, log, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-rules', log);
    startup.connected('nats');
    await ensureSamplesStream(nats.jsm, config.nats, log);
    await ensureIncidentsStream(nats.jsm, config.nats, config.retentionMs, log);
    const redis = await connectRedis(config.redis, 'loadstar-rules', log);
    startup.connected('redis');
    const registry = createRegistry('rules');
    const publisher = new JetStreamPublisher(nats.nc);
    const evaluator = new RuleEvaluator(
      redis,
      config.rules,
      config.retentionMs,
      config.defaultIntervalMs,
    );
    const counters = createRulesCounters(registry);
    const consumer = new RulesConsumer(nats, evaluator, publisher, counters, log);
    consumer.start();
    const absence = new AbsenceWatch(
      nats,
      redis,
      evaluator,
      async (event) => {
        await consumer.publish(event);
        counters.transitions.inc({ transition: event.transition });
      },
      createAbsenceCounters(registry),
      log.child('absence'),
      config.absentCheckMs,
      config.retentionMs,
    );
    absence.start();
    const reloader = config.rulesFile
      ? new FileReloader<Rule[]>({
          path: config.rulesFile,
          parse: parseRules,
          apply: (rules) => {
            evaluator.use(rules);
            log.info('evaluating incident rules', { rules: ruleNames(rules) });
          },
          what: 'rules',
          log,
        })
      : undefined;
    await reloader?.start();

    const app = createHealthApp(
      registry,
      () => ({ nats: nats.isConnected(), redis: isRedisReady(redis) }),
      log,
      config.metricsToken,
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
      rules: ruleNames(config.rules),
      from: config.rulesFrom,
      health: listener.url.href,
    });
    return {
      url: listener.url,
      consumer,
      absence,
      reload: () => reloader?.reload('SIGHUP') ?? Promise.resolve(),
      async stop() {
        reloader?.stop();
        await absence.stop();
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
