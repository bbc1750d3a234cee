// The receiver's HTTP face: POST one sample at RECEIVER_URL (the flat JSON of
// docs/CONTRACT.md, host and time in headers), POST a batch at RECEIVER_URL/batch (how
// agents catch up after an outage), remote_write and line protocol at the root
// (writes.ts), and the open health and metrics endpoints.
// Ingest checks, in order: token, content type, host, body, time, store growth.
import Router from '@koa/router';
import Koa from 'koa';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { readBody, requireJson } from '../deploy/runtime/body.ts';
import {
  errorMiddleware,
  logAppErrors,
  sendJson,
  timingMiddleware,
} from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { metricsGuard, type TokenSet } from '../deploy/runtime/tokens.ts';
import { openApiDocument } from '../proto/openapi.ts';
import {
  checkHost,
  checkMetrics,
  checkSampleId,
  InputError,
  parseInterval,
  parseMetricsBody,
  parseTime,
  type Sample,
} from '../proto/sample.ts';
import { IngestAccess } from './access.ts';
import type { IngestLimits } from './config.ts';
import {
  type Accepted,
  type Ingest,
  type IngestCounters,
  newSampleId,
  type Room,
} from './ingest.ts';
import { type Admission, GrowthLimits } from './limits.ts';
import { writeRoutes } from './writes.ts';

export interface ReceiverDeps {
  path: string;
  /** Where the gateway listens, for the API document. */
  gatewayUrl: URL;
  limits: IngestLimits;
  ingest: Ingest;
  counters: IngestCounters;
  registry: Registry;
  readiness: () => Record<string, boolean>;
  /** Needed by /metrics when set (METRICS_TOKEN). */
  metricsToken?: TokenSet;
  /**
   * The store, for MAX_HOSTS and MAX_METRICS_PER_HOST (the fold's host list and
   * metric sets). Only an app built to list its routes goes without: then those
   * two limits are not checked, and the log says so.
   */
  redis?: RedisClient;
  log: Log;
}

/** Header names a producer uses to say what the flat body cannot. */
export const HEADERS = {
  host: 'Loadstar-Host',
  time: 'Loadstar-Time',
  id: 'Loadstar-Sample-Id',
  interval: 'Loadstar-Interval',
  spoolDepth: 'Loadstar-Spool-Depth',
  spoolDropped: 'Loadstar-Spool-Dropped',
} as const;

/** The peer's address as a host name, for posts that do not name their host. */
function peerHost(ctx: Koa.Context): string {
  const address = (ctx.req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
  return address.replace(/[^A-Za-z0-9_.:-]/g, '_');
}

function batchPath(path: string): string {
  return `${path.replace(/\/+$/, '')}/batch`;
}

export function createReceiverApp(deps: ReceiverDeps): Koa {
  const { limits, ingest, counters, log } = deps;
  const app = new Koa();
  const router = new Router();
  const durations = new Histogram({
    name: 'loadstar_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  // What each producer last reported of its spool, by host. The dropped count is the
  // producer's own counter (its spool keeps it over its whole life), relayed as a counter.
  const droppedByHost = new Map<string, number>();
  new Counter({
    name: 'loadstar_producer_spool_dropped_total',
    help: 'Samples a producer dropped because its disk spool was full, over the spool life, as last reported by that producer',
    labelNames: ['host'],
    registers: [deps.registry],
    collect() {
      this.reset();
      for (const [host, dropped] of droppedByHost) this.inc({ host }, dropped);
    },
  });
  const spoolDepth = new Gauge({
    name: 'loadstar_producer_spool_depth',
    help: 'Samples waiting in a producer disk spool, as last reported by that producer',
    labelNames: ['host'],
    registers: [deps.registry],
  });

  /** A spool figure from its header: a whole number, else left out (the sample is still taken). */
  const spoolFigure = (ctx: Koa.Context, header: string): number | undefined => {
    const text = ctx.get(header);
    return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
  };
  const recordSpool = (ctx: Koa.Context, host: string) => {
    const dropped = spoolFigure(ctx, HEADERS.spoolDropped);
    const depth = spoolFigure(ctx, HEADERS.spoolDepth);
    if (dropped !== undefined) droppedByHost.set(host, dropped);
    if (depth !== undefined) spoolDepth.set({ host }, depth);
  };

  const headerHost = (ctx: Koa.Context): string => {
    const named = ctx.get(HEADERS.host);
    return named ? checkHost(named, `header ${HEADERS.host}`) : peerHost(ctx);
  };
  const hostSource = (ctx: Koa.Context): string =>
    ctx.get(HEADERS.host)
      ? `header ${HEADERS.host}`
      : `the poster's address: no ${HEADERS.host} header`;

  const access = new IngestAccess(limits.access, log);
  const growth = deps.redis ? new GrowthLimits(deps.redis, limits) : null;
  if (!growth && (limits.maxHosts > 0 || limits.maxMetricsPerHost > 0)) {
    log.warn(
      'MAX_HOSTS and MAX_METRICS_PER_HOST are not checked: this receiver has no Redis client',
    );
  }
  const admit = (samples: Sample[]): Promise<Admission> | Admission =>
    growth ? growth.admit(samples) : { refused: samples.map(() => null), settle: () => {} };
  /** Accepts the samples let in, and lets the limits know they are no longer in flight. */
  const acceptAdmitted = async (samples: Sample[], admission: Admission) => {
    let accepted = false;
    try {
      const result = await ingest.accept(samples);
      accepted = true;
      return result;
    } finally {
      admission.settle(accepted);
    }
  };

  // The room an ingest request holds among MAX_IN_FLIGHT (taken in the handler,
  // after the token check), given back however the request ends.
  const releaseRoom: Koa.Middleware = async (ctx, next) => {
    try {
      await next();
    } finally {
      (ctx.state.room as Room | undefined)?.release();
    }
  };

  router.post(deps.path, releaseRoom, async (ctx) => {
    counters.received.inc();
    const grant = await access.authorize(ctx);
    requireJson(ctx);
    const host = headerHost(ctx);
    grant.check(host, hostSource(ctx));
    ctx.state.room = ingest.admit();
    const id = ctx.get(HEADERS.id);
    const time = ctx.get(HEADERS.time);
    const interval = ctx.get(HEADERS.interval);
    const sample: Sample = {
      host,
      id: id ? checkSampleId(id, `header ${HEADERS.id}`) : newSampleId(),
      time: time ? parseTime(time, `header ${HEADERS.time}`) : Date.now(),
      interval: interval ? parseInterval(interval, `header ${HEADERS.interval}`) : 0,
      metrics: parseMetricsBody(
        await readBody(ctx, limits.maxBodyBytes, limits.bodyTimeoutMs),
        limits.maxMetricsPerSample,
      ),
    };
    ingest.checkTime(sample);
    const admission = await admit([sample]);
    const refusal = admission.refused[0];
    if (refusal) throw refusal;
    const [accepted] = await acceptAdmitted([sample], admission);
    recordSpool(ctx, host);
    sendJson(ctx, 200, {
      accepted: 1,
      duplicate: accepted!.duplicate,
      seq: accepted!.seq,
      id: sample.id,
    });
  });

  router.post(batchPath(deps.path), releaseRoom, async (ctx) => {
    const grant = await access.authorize(ctx);
    requireJson(ctx);
    const host = headerHost(ctx);
    const room = ingest.admit();
    ctx.state.room = room;
    const text = await readBody(ctx, limits.maxBatchBytes, limits.bodyTimeoutMs);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new InputError(`body is not JSON: ${(err as Error).message}`);
    }
    const items = (body as { samples?: unknown } | null)?.samples;
    if (!Array.isArray(items)) throw new InputError('batch body must be {"samples": [...]}');
    if (items.length === 0) throw new InputError('batch has no samples');
    if (items.length > limits.maxBatchSamples) {
      throw new InputError(
        `batch has ${items.length} samples; the limit is ${limits.maxBatchSamples} (MAX_BATCH_SAMPLES)`,
        413,
        'too_large',
      );
    }
    counters.received.inc(items.length);
    room.grow(items.length);
    const checked: Sample[] = [];
    const checkedAt: number[] = [];
    const rejected: { index: number; error: string }[] = [];
    const reject = (index: number, err: InputError) => {
      counters.rejected.inc({ reason: err.reason });
      rejected.push({ index, error: err.message });
    };
    const now = Date.now();
    items.forEach((item, index) => {
      try {
        const sample = batchSample(item, host, limits.maxMetricsPerSample);
        ingest.checkTime(sample, now);
        checked.push(sample);
        checkedAt.push(index);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        reject(index, err);
      }
    });
    // A token bound to a host refuses the whole batch for one sample of another host:
    // that is a misconfigured agent, and nothing of it is stored.
    checked.forEach((sample, i) => {
      grant.check(sample.host, `sample ${checkedAt[i]}`);
    });
    // Limits refuse sample by sample, as separate posts would be: the others still count.
    const admission = await admit(checked);
    const samples: Sample[] = [];
    const positions: number[] = [];
    checked.forEach((sample, i) => {
      const refusal = admission.refused[i];
      if (refusal) reject(checkedAt[i]!, refusal);
      else {
        samples.push(sample);
        positions.push(checkedAt[i]!);
      }
    });
    rejected.sort((a, b) => a.index - b.index);
    if (rejected.length > 0) {
      log.warn('batch had rejected samples', {
        host,
        rejected: rejected.length,
        first: rejected[0]!.error,
      });
    }
    let accepted: Accepted[] = [];
    if (samples.length > 0) accepted = await acceptAdmitted(samples, admission);
    else admission.settle(false);
    recordSpool(ctx, host);
    sendJson(ctx, 200, {
      accepted: accepted.length,
      duplicates: accepted.filter((a) => a.duplicate).length,
      seqs: accepted.map((a, i) => [positions[i], a.seq]),
      rejected,
    });
  });

  // Prometheus remote_write and InfluxDB line protocol, through this same path.
  writeRoutes(router, {
    limits,
    counters,
    registry: deps.registry,
    log,
    authorize: (ctx) => access.authorize(ctx),
    room: () => ingest.admit(),
    releaseRoom,
    checkTime: (sample, now) => ingest.checkTime(sample, now),
    admit,
    accept: acceptAdmitted,
    defaultHost: headerHost,
  });

  router.get('/healthz', (ctx) => sendJson(ctx, 200, { status: 'ok' }));
  router.get('/readyz', (ctx) => {
    const parts = deps.readiness();
    const ready = Object.values(parts).every(Boolean);
    sendJson(ctx, ready ? 200 : 503, { ready, ...parts });
  });
  router.get('/metrics', metricsGuard(deps.metricsToken), async (ctx) => {
    ctx.type = deps.registry.contentType;
    ctx.body = await deps.registry.metrics();
  });
  // The same document as the gateway's, with this receiver as its server; placed per
  // request, because its examples carry times near now (so that they pass the age checks).
  router.get('/openapi.json', (ctx) => {
    const gateway = deps.gatewayUrl;
    sendJson(
      ctx,
      200,
      openApiDocument(gateway.pathname.replace(/\/?$/, '/'), deps.path, {
        servers: { gateway: [gateway.origin], receiver: ['/'] },
      }),
    );
  });

  app.use(errorMiddleware(log, (reason) => counters.rejected.inc({ reason })));
  app.use(timingMiddleware(durations));
  // A request refused before its body was read (a wrong token, a wrong type): Node
  // reads and drops the rest of the body, so that the client, still sending, gets
  // the answer instead of a reset. Only a body of no stated length, or longer than
  // any we accept, is cut off by closing the connection.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const length = ctx.request.length;
      if (!ctx.req.complete && (length === undefined || length > limits.maxBatchBytes)) {
        ctx.set('Connection', 'close');
      }
      throw err;
    }
  });
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  logAppErrors(app, log);
  return app;
}

function batchSample(item: unknown, defaultHost: string, maxNames: number): Sample {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new InputError('sample must be an object {"id", "time", "metrics", ...}');
  }
  const r = item as Record<string, unknown>;
  const text = (v: unknown, field: string): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && field === 'time') return String(v);
    throw new InputError(`field ${field} must be a string`);
  };
  return {
    host: r.host === undefined ? defaultHost : checkHost(text(r.host, 'host'), 'field host'),
    id: r.id === undefined ? newSampleId() : checkSampleId(text(r.id, 'id'), 'field id'),
    time: r.time === undefined ? Date.now() : parseTime(text(r.time, 'time'), 'field time'),
    interval: r.interval === undefined ? 0 : parseInterval(String(r.interval), 'field interval'),
    metrics: checkMetrics(r.metrics, maxNames, 'field metrics'),
  };
}
