// Builds a running gateway: Redis reads over HTTP, the live feed and gRPC.
// Stateless: any number of copies answer the same. main.ts wires it to the process.
import type * as grpc from '@grpc/grpc-js';
import type { Listener } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import { connectNats, ensureIncidentsStream, ensureSamplesStream } from '../deploy/runtime/nats.ts';
import { RecordingStore } from '../deploy/runtime/recording-store.ts';
import { connectRedis, isRedisReady } from '../deploy/runtime/redis.ts';
import { listenWhileStarting } from '../deploy/runtime/startup.ts';
import { createRegistry, publishStats, scrapePipeline } from '../deploy/runtime/stats.ts';
import { AckStore } from '../proto/ack.ts';
import { readReceiverStatus } from '../proto/receivers.ts';
import { SilenceStore } from '../proto/silence.ts';
import type { GatewayConfig } from './config.ts';
import { LiveFeed } from './feed.ts';
import { bindGrpc, createGrpcServer, grpcCredentials } from './grpc.ts';
import { createGatewayApp } from './http.ts';
import { IncidentReader } from './incidents.ts';
import { ReadModel } from './read.ts';
import { RecordingControl } from './recording.ts';

export interface RunningGateway {
  url: URL;
  grpcAddress: string;
  listener: Listener;
  feed: LiveFeed;
  stop(): Promise<void>;
}

export function startGateway(config: GatewayConfig, log: Log): Promise<RunningGateway> {
  return listenWhileStarting(config, log, async (startup) => {
    const nats = await connectNats(config.nats, 'loadstar-gateway', log);
    startup.connected('nats');
    await ensureSamplesStream(nats.jsm, config.nats, log);
    await ensureIncidentsStream(nats.jsm, config.nats, config.incidentRetentionMs, log);
    const redis = await connectRedis(config.redis, 'loadstar-gateway', log);
    startup.connected('redis');
    const registry = createRegistry('gateway');
    const read = new ReadModel(redis, config.retention.rawRetentionMs);
    const feed = new LiveFeed(nats, log.child('feed'));
    const statsField = `gateway:${process.pid}:${Date.now()}`;
    const readiness = () => ({ nats: nats.isConnected(), redis: isRedisReady(redis) });

    const recording = new RecordingControl(
      redis,
      await RecordingStore.open(nats.nc, config.nats.replicas),
      config.retention,
      log.child('recording'),
    );
    await recording.start();
    const app = createGatewayApp({
      base: config.url.pathname,
      redis,
      read,
      feed,
      recording,
      incidents: new IncidentReader(redis),
      silences: new SilenceStore(redis),
      acks: new AckStore(redis),
      receivers: () => readReceiverStatus(redis, nats.jsm),
      staleness: config.staleness,
      retention: config.retention,
      history: config.history,
      maxTopics: config.maxTopics,
      apiToken: config.apiToken,
      readTokens: config.readTokens,
      metricsToken: config.metricsToken,
      receiverUrls: config.receiverUrls,
      registry,
      scrape: () => scrapePipeline(registry, redis, statsField),
      readiness,
      log,
    });
    const grpcServer: grpc.Server = createGrpcServer(config.grpc, {
      read,
      feed,
      nats,
      staleness: config.staleness,
      registry,
      access: {
        base: config.url.pathname,
        readTokens: config.readTokens,
        apiToken: config.apiToken,
      },
      log: log.child('grpc'),
    });
    const { listener } = startup;
    // TLS exactly when the HTTP side has it (WEB_SERVER_URL https://), with the same certificate.
    const grpcPort = await bindGrpc(
      grpcServer,
      config.grpc.host,
      config.grpc.port,
      grpcCredentials(listener.certificates),
    );
    startup.serve(app.callback());
    listener.countMalformed(registry);
    const stopStats = publishStats(registry, redis, statsField, log);
    const grpcAddress = `${config.grpc.host.includes(':') ? `[${config.grpc.host}]` : config.grpc.host}:${grpcPort}`;
    log.info('serving', { http: listener.url.href, grpc: grpcAddress });
    return {
      url: listener.url,
      grpcAddress,
      listener,
      feed,
      async stop() {
        await listener.close();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            grpcServer.forceShutdown();
            resolve();
          }, 3_000);
          grpcServer.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await feed.stop();
        recording.stop();
        await stopStats();
        await nats.close();
        redis.disconnect();
      },
    };
  });
}
