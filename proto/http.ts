// HTTP conventions shared by receiver and gateway: every error is JSON
// `{"error": "..."}` with the right status, a 503 always carries Retry-After,
// and `localhost` is served on both 127.0.0.1 and ::1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Histogram } from 'prom-client';
import type { Log } from './log.ts';
import { InputError } from './sample.ts';

/** A dependency (NATS, Redis) is away: the request may succeed later. */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 2,
  ) {
    super(message);
    this.name = 'UnavailableError';
  }
}

export function sendJson(ctx: Koa.Context, status: number, body: string | object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = typeof body === 'string' ? body : JSON.stringify(body);
}

/** Turns every thrown error into a JSON answer; unexpected ones are logged and counted as 500. */
export function errorMiddleware(log: Log, onRejected?: (reason: string) => void): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendJson(ctx, 404, { error: `no route for ${ctx.method} ${ctx.path}` });
      }
    } catch (err) {
      if (err instanceof InputError) {
        onRejected?.(err.reason);
        sendJson(ctx, err.status, { error: err.message });
      } else if (err instanceof UnavailableError) {
        ctx.set('Retry-After', String(err.retryAfterSeconds));
        sendJson(ctx, 503, { error: err.message });
      } else {
        const e = err as { status?: number; expose?: boolean; message?: string };
        if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
          sendJson(ctx, e.status, { error: e.expose && e.message ? e.message : 'bad request' });
        } else {
          log.error('request failed', { method: ctx.method, path: ctx.path, error: err });
          sendJson(ctx, 500, { error: 'internal error; see the service log' });
        }
      }
    }
  };
}

/** Client disconnects mid-answer (a closed browser tab, a cancelled stream) are normal, not errors. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE', 'ECONNRESET', 'ECONNABORTED']);

/** Routes Koa's own error events (raised outside the middleware, e.g. while streaming) to the log. */
export function logAppErrors(app: Koa, log: Log): void {
  app.silent = true;
  app.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code && CLIENT_GONE.has(err.code)) return;
    log.warn('HTTP error outside a request', { error: err.message });
  });
}

/** Observes each request's duration, labelled by route (never by raw path, to bound cardinality). */
export function timingMiddleware(
  histogram: Histogram<'route' | 'method' | 'status'>,
): Koa.Middleware {
  return async (ctx, next) => {
    const end = histogram.startTimer();
    try {
      await next();
    } finally {
      const route = (ctx as Koa.Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      end({ route: String(route), method: ctx.method, status: String(ctx.status) });
    }
  };
}

export interface Listener {
  /** The URL the service answers on, with the real port when port 0 was asked. */
  url: URL;
  servers: Server[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function listenOne(handler: Handler, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.keepAliveTimeout = 65_000;
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Listens where the URL says; `localhost` means both loopback addresses. */
export async function listenHttp(handler: Handler, url: URL): Promise<Listener> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const wantedPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const servers: Server[] = [];
  if (host === 'localhost') {
    const v4 = await listenOne(handler, '127.0.0.1', wantedPort);
    servers.push(v4);
    const port = (v4.address() as AddressInfo).port;
    // ::1 is absent on hosts without IPv6; 127.0.0.1 alone still serves `localhost` there.
    await listenOne(handler, '::1', port).then(
      (v6) => servers.push(v6),
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRNOTAVAIL' && err.code !== 'EAFNOSUPPORT') throw err;
      },
    );
  } else {
    servers.push(await listenOne(handler, host, wantedPort));
  }
  const actual = new URL(url.href);
  actual.port = String((servers[0]!.address() as AddressInfo).port);
  return {
    url: actual,
    servers,
    close: () => closeServers(servers),
  };
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
export async function closeServers(servers: Server[], graceMs = 5_000): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => server.closeAllConnections(), graceMs);
          server.close(() => {
            clearTimeout(timer);
            resolve();
          });
          server.closeIdleConnections();
        }),
    ),
  );
}
