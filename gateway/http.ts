// The gateway's HTTP face, all under the path of WEB_SERVER_URL:
//   GET  <path>?topics=a,b[&host=h]       docs/CONTRACT.md's latest values (a browser gets the dashboard)
//   GET  <path>api/v1/latest | hosts | summary | metrics | history | recording | stream
//   POST <path>api/v1/recording/{pause,resume,reset}
//   GET  <path>api/v1/incidents[/{id}], POST <path>api/v1/incidents/{id}/ack
//   GET|POST <path>api/v1/silences, DELETE <path>api/v1/silences/{id}, GET <path>api/v1/receivers
//   GET  <path>dashboard/*, healthz, readyz, metrics
//   GET|POST <path>api/v1/{query,query_range,series,labels,...}: Prometheus' query API; GET <path>federate
import Router from '@koa/router';
import Koa from 'koa';
import { Histogram, type Registry } from 'prom-client';
import {
  errorMiddleware,
  logAppErrors,
  sendJson,
  timingMiddleware,
} from '../deploy/runtime/http.ts';
import { metricsGuard, type TokenSet } from '../deploy/runtime/tokens.ts';
import { guardReads } from './auth.ts';
import { openapiRoutes } from './openapi/routes.ts';
import type { GatewayRoutes } from './routes/context.ts';
import { dashboardRoutes, wantsDashboard } from './routes/dashboard.ts';
import { federateRoutes } from './routes/federate.ts';
import { historyRoutes } from './routes/history.ts';
import { hostRoutes } from './routes/hosts.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { prometheusRoutes } from './routes/prometheus.ts';
import { receiverRoutes } from './routes/receivers.ts';
import { recordingRoutes } from './routes/recording.ts';
import { silenceRoutes } from './routes/silences.ts';
import { summaryRoutes } from './routes/summary.ts';
import { valueRoutes } from './routes/values.ts';

export interface GatewayHttpDeps extends GatewayRoutes {
  registry: Registry;
  /** The whole pipeline's counters in Prometheus text. */
  scrape: () => Promise<string>;
  readiness: () => Record<string, boolean>;
  /** Needed (or API_TOKEN) by everything that holds data, when set (READ_TOKENS). */
  readTokens?: TokenSet;
  /** Needed by /metrics when set (METRICS_TOKEN). */
  metricsToken?: TokenSet;
}

export function createGatewayApp(deps: GatewayHttpDeps): Koa {
  const { base } = deps;
  const app = new Koa();
  const router = new Router();
  const durations = new Histogram({
    name: 'loadstar_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });

  for (const group of [
    valueRoutes,
    hostRoutes,
    summaryRoutes,
    historyRoutes,
    recordingRoutes,
    incidentRoutes,
    silenceRoutes,
    receiverRoutes,
    dashboardRoutes,
    openapiRoutes,
    prometheusRoutes,
    federateRoutes,
  ]) {
    group(router, deps);
  }

  router.get(`${base}healthz`, (ctx) => sendJson(ctx, 200, { status: 'ok' }));
  router.get(`${base}readyz`, (ctx) => {
    const parts = deps.readiness();
    const ready = Object.values(parts).every(Boolean);
    sendJson(ctx, ready ? 200 : 503, { ready, ...parts });
  });
  router.get(`${base}metrics`, metricsGuard(deps.metricsToken), async (ctx) => {
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
    ctx.body = await deps.scrape();
  });

  app.use(errorMiddleware(deps.log));
  app.use(timingMiddleware(durations));
  app.use(
    guardReads({ base, readTokens: deps.readTokens, apiToken: deps.apiToken }, wantsDashboard),
  );
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  logAppErrors(app, deps.log);
  return app;
}
