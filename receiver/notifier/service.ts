// Builds a running notifier: connections, the incidents and deliveries
// streams, the dispatcher (transitions -> per-receiver queues), one delivery
// worker per receiver, the clock of reminders and Alertmanager refreshes, the
// RULES_FILE watch (its receivers and routes reload on SIGHUP or a change), the
// receivers' registration for the gateway, and the HTTP face for health and metrics.

import { createHealthApp } from '../../deploy/runtime/health.ts';
import type { Listener } from '../../deploy/runtime/http.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import {
  connectNats,
  ensureDeliveriesStream,
  ensureIncidentsStream,
} from '../../deploy/runtime/nats.ts';
import { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import { connectRedis, isRedisReady, type RedisClient } from '../../deploy/runtime/redis.ts';
import { FileReloader } from '../../deploy/runtime/reload.ts';
import { listenWhileStarting } from '../../deploy/runtime/startup.ts';
import { createRegistry, publishStats } from '../../deploy/runtime/stats.ts';
import { Trust } from '../../deploy/runtime/trust.ts';
import { AckStore } from '../../proto/ack.ts';
import { alertKeys } from '../../proto/keys.ts';
import { type ReceiverInfo, redactedUrl } from '../../proto/receivers.ts';
import { SilenceStore } from '../../proto/silence.ts';
import { NotifierClock } from './clock.ts';
import type { NotifierConfig } from './config.ts';
import { createDeliveryCounters, DeliveryWorker } from './delivery.ts';
import { createDispatchCounters, Dispatcher } from './dispatcher.ts';
import { RECEIVER_KINDS } from './receivers/registry.ts';
import { parseRouting, type ReceiverSpec, type Routing } from './routing.ts';
import { IncidentState } from './state.ts';

export interface RunningNotifier {
  url: URL;
  /** The receivers and routes in force. */
  routing(): Routing;
  /** Re-reads RULES_FILE now (as SIGHUP does). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

const sameSpec = (a: ReceiverSpec, b: ReceiverSpec) =>
  a.type === b.type &&
  a.url.href === b.url.href &&
  JSON.stringify(a.headers) === JSON.stringify(b.headers);

/** Tells the gateway which receivers run: the set replaces the one before, in one step. */
async function register(redis: RedisClient, routing: Routing): Promise<void> {
  const infos = routing.receivers.map(
    (r): ReceiverInfo => ({ name: r.name, type: r.type, url: redactedUrl(r.url), from: r.from }),
  );
  const multi = redis.multi().del(alertKeys.receivers);
  for (const info of infos) multi.hset(alertKeys.receivers, info.name, JSON.stringify(info));
  await multi.exec();
}

export function startNotifier(config: NotifierConfig, log: Log): Promise<RunningNotifier> {
  return listenWhileStarting(config, log, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-notifier', log);
    startup.connected('nats');
    await ensureIncidentsStream(nats.jsm, config.nats, config.retentionMs, log);
    await ensureDeliveriesStream(nats.jsm, config.nats, config.delivery.giveUpMs, log);
    const redis = await connectRedis(config.redis, 'loadstar-notifier', log);
    startup.connected('redis');
    const registry = createRegistry('notifier');
    const publisher = new JetStreamPublisher(nats.nc);
    const silences = new SilenceStore(redis);
    const acks = new AckStore(redis);
    let routing = config.routing;
    const current = () => routing;
    const state = new IncidentState(redis, current, silences, acks);
    const deliveryCounters = createDeliveryCounters(registry);

    const workers = new Map<string, DeliveryWorker>();
    // One trust for every worker: the CA file is looked at once a second at most, whoever asks.
    const delivery = {
      ...config.delivery,
      trust: config.trust && new Trust(config.trust, (problem) => log.warn(problem)),
    };
    /** One worker per receiver in force: new ones start, gone or changed ones stop. */
    const syncWorkers = async () => {
      for (const [name, worker] of workers) {
        const spec = routing.receivers.find((r) => r.name === name);
        if (spec && sameSpec(spec, worker.spec)) continue;
        workers.delete(name);
        await worker.stop();
      }
      for (const spec of routing.receivers) {
        if (workers.has(spec.name)) continue;
        const worker = new DeliveryWorker(
          nats,
          redis,
          spec,
          RECEIVER_KINDS[spec.type],
          delivery,
          state,
          deliveryCounters,
          log.child(spec.name),
        );
        workers.set(spec.name, worker);
        worker.start();
      }
    };
    await syncWorkers();
    await register(redis, routing).catch((err: Error) =>
      log.warn('could not register the receivers for the gateway', { error: err.message }),
    );

    const dispatcher = new Dispatcher(
      nats,
      publisher,
      silences,
      current,
      createDispatchCounters(registry),
      log,
    );
    dispatcher.start();
    const clock = new NotifierClock(
      redis,
      publisher,
      state,
      current,
      silences,
      acks,
      config.delivery.resendMs,
      log.child('clock'),
    );
    clock.start();

    const reloader = config.rulesFile
      ? new FileReloader<Routing>({
          path: config.rulesFile,
          parse: (source) => parseRouting(source, config.settingsReceivers, config.env),
          apply: (next) => {
            routing = next;
            void syncWorkers();
            void register(redis, next).catch((err: Error) =>
              log.warn('could not register the receivers for the gateway', { error: err.message }),
            );
          },
          what: 'receivers and routes',
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
      `notifier:${listener.url.host}:${process.pid}`,
      log,
    );
    log.info('notifying', {
      receivers: routing.receivers.map((r) => `${r.name}(${r.type})`).join(',') || 'none',
      routes: routing.routes.length,
      health: listener.url.href,
    });
    if (routing.receivers.length === 0)
      log.warn(
        'no receivers: set ALERT_WEBHOOK_URLS, ALERT_SLACK_URLS or ALERTMANAGER_URLS, or receivers in RULES_FILE',
      );
    return {
      url: listener.url,
      routing: current,
      reload: () => reloader?.reload('SIGHUP') ?? Promise.resolve(),
      async stop() {
        reloader?.stop();
        await clock.stop();
        await dispatcher.stop();
        await Promise.all([...workers.values()].map((w) => w.stop()));
        publisher.close();
        await listener.close();
        await stopStats();
        await nats.close();
        redis.disconnect();
      },
    };
  });
}
