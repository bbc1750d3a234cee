// The whole HTTP face of a service that only works in the background (the
// storage and rules consumers, the notifier): /healthz, /readyz naming each
// connection, and /metrics for Prometheus (behind METRICS_TOKEN when set).
import Router from '@koa/router';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import { errorMiddleware, logAppErrors, sendJson } from './http.ts';
import type { Log } from './log.ts';
import { metricsGuard, type TokenSet } from './tokens.ts';

export function createHealthApp(
  registry: Registry,
  /** Each connection the service needs, and whether it is up right now. */
  readiness: () => Record<string, boolean>,
  log: Log,
  /** Needed by /metrics when set (METRICS_TOKEN). */
  metricsToken?: TokenSet,
): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/healthz', (ctx) => sendJson(ctx, 200, { status: 'ok' }));
  router.get('/readyz', (ctx) => {
    const parts = readiness();
    const ready = Object.values(parts).every(Boolean);
    sendJson(ctx, ready ? 200 : 503, { ready, ...parts });
  });
  router.get('/metrics', metricsGuard(metricsToken), async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  app.use(errorMiddleware(log));
  app.use(router.routes());
  logAppErrors(app, log);
  return app;
}
