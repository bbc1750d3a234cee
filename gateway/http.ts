// The gateway's HTTP face, all under the path of WEB_SERVER_URL:
//   GET  <path>?topics=a,b[&host=h]   the DESIGN.md contract: last values as JSON floats
//   GET  <path>api/v1/latest           values with time, host, age and a stale flag
//   GET  <path>api/v1/hosts            the hosts seen, with last-seen time
//   GET  <path>healthz | readyz | metrics
import Router from '@koa/router';
import Koa from 'koa';
import { Histogram, type Registry } from 'prom-client';
import { renderValues, stringifyWithFloats } from '../proto/float.ts';
import { errorMiddleware, sendJson, timingMiddleware } from '../proto/http.ts';
import type { Log } from '../proto/log.ts';
import {
  ageSeconds,
  isStale,
  parseHostParam,
  parseTopics,
  type ReadModel,
  type Staleness,
} from './read.ts';

export interface GatewayHttpDeps {
  /** The path of WEB_SERVER_URL, ending in '/'. */
  base: string;
  read: ReadModel;
  staleness: Staleness;
  maxTopics: number;
  registry: Registry;
  /** The whole pipeline's counters in Prometheus text. */
  scrape: () => Promise<string>;
  readiness: () => Record<string, boolean>;
  log: Log;
}

const FLOAT_FIELDS = new Set(['value', 'interval']);

export function createGatewayApp(deps: GatewayHttpDeps): Koa {
  const { base, read, staleness, log } = deps;
  const app = new Koa();
  const router = new Router();
  const durations = new Histogram({
    name: 'loadstar_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });

  router.get(base, async (ctx) => {
    const topics = parseTopics(ctx.query.topics, deps.maxTopics);
    const host = parseHostParam(ctx.query.host);
    const values = await read.latestValues(topics, host);
    sendJson(ctx, 200, renderValues(topics.map((t, i) => [t, values[i]!] as const)));
  });

  router.get(`${base}api/v1/latest`, async (ctx) => {
    const topics = parseTopics(ctx.query.topics, deps.maxTopics);
    const host = parseHostParam(ctx.query.host);
    const readings = await read.latest(topics, host);
    const now = Date.now();
    const body: Record<string, unknown> = {};
    topics.forEach((topic, i) => {
      const r = readings[i];
      body[topic] = r
        ? {
            value: r.value,
            host: r.host,
            time: new Date(r.time).toISOString(),
            time_ms: r.time,
            age_seconds: ageSeconds(r.time, now),
            interval: r.interval,
            stale: isStale(r.time, r.interval, staleness, now),
          }
        : null;
    });
    sendJson(ctx, 200, stringifyWithFloats(body, FLOAT_FIELDS));
  });

  router.get(`${base}api/v1/hosts`, async (ctx) => {
    const now = Date.now();
    const hosts = (await read.hosts()).map((h) => ({
      host: h.host,
      last_seen: new Date(h.lastSeen).toISOString(),
      last_seen_ms: h.lastSeen,
      first_seen: new Date(h.firstSeen).toISOString(),
      age_seconds: ageSeconds(h.lastSeen, now),
      interval: h.interval,
      stale: isStale(h.lastSeen, h.interval, staleness, now),
      samples: h.samples,
    }));
    sendJson(ctx, 200, stringifyWithFloats({ hosts }, FLOAT_FIELDS));
  });

  router.get(`${base}healthz`, (ctx) => sendJson(ctx, 200, { status: 'ok' }));
  router.get(`${base}readyz`, (ctx) => {
    const parts = deps.readiness();
    const ready = Object.values(parts).every(Boolean);
    sendJson(ctx, ready ? 200 : 503, { ready, ...parts });
  });
  router.get(`${base}metrics`, async (ctx) => {
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
    ctx.body = await deps.scrape();
  });

  app.use(errorMiddleware(log));
  app.use(timingMiddleware(durations));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
