// HTTP conventions shared by every service's listener: every error is JSON
// `{"error": "..."}` with the right status (requests Node's own parser refuses
// too), a 503 always carries Retry-After, `localhost` is served on both
// 127.0.0.1 and ::1, and an https:// URL is served with TLS whose certificate
// is re-read when it changes. A failed TLS handshake ends only its connection.
import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type Koa from 'koa';
import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import { codeOfStatus, errorCode, LoadstarError } from '../../proto/errors.ts';
import { InputError } from '../../proto/sample.ts';
import type { Log } from './log.ts';
import { CertificateWatcher, type ServerTlsSettings } from './tls.ts';

/** A dependency (NATS, Redis) is away (code `unavailable`): the request may succeed later. */
export class UnavailableError extends LoadstarError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 2,
  ) {
    super('unavailable', message);
    this.name = 'UnavailableError';
  }
}

export function sendJson(ctx: Koa.Context, status: number, body: string | object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = typeof body === 'string' ? body : JSON.stringify(body);
}

/**
 * Turns every thrown error into a JSON answer, `{"error": "...", "code": "..."}`
 * (the code from proto/errors.ts); unexpected ones are logged and counted as 500.
 */
export function errorMiddleware(log: Log, onRejected?: (reason: string) => void): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendJson(ctx, 404, { error: `no route for ${ctx.method} ${ctx.path}`, code: 'not_found' });
      }
    } catch (err) {
      if (err instanceof InputError) {
        onRejected?.(err.reason);
        sendJson(ctx, err.status, { error: err.message, code: err.code });
      } else if (err instanceof UnavailableError) {
        ctx.set('Retry-After', String(err.retryAfterSeconds));
        sendJson(ctx, 503, { error: err.message, code: err.code });
      } else {
        const e = err as { status?: number; expose?: boolean; message?: string };
        if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
          sendJson(ctx, e.status, {
            error: e.expose && e.message ? e.message : 'bad request',
            code: err instanceof LoadstarError ? errorCode(err) : codeOfStatus(e.status),
          });
        } else {
          log.error('request failed', { method: ctx.method, path: ctx.path, error: err });
          sendJson(ctx, 500, { error: 'internal error; see the service log', code: 'internal' });
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
  /** The certificate served, kept current, when the URL is https://. */
  certificates?: CertificateWatcher;
  close(): Promise<void>;
  /**
   * Counts the requests Node's parser refused (loadstar_http_malformed_requests_total)
   * and, on TLS, the failed handshakes (loadstar_tls_handshake_failures_total) in the
   * service's registry, those while it started included; shows the certificate's
   * expiry (loadstar_tls_certificate_expiry_timestamp_seconds).
   */
  countMalformed(registry: Registry): void;
}

export interface ListenOptions {
  /** The certificate files, needed when the URL is https://. */
  tls?: ServerTlsSettings;
  /** Where certificate reloads and refusals are logged. */
  log?: Log;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Parser errors with an answer of their own; every other one is a 400. */
const PARSER_REFUSALS: Record<string, { status: number; error: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    error: `request line and headers are larger than ${maxHeaderSize} bytes, the most this server reads`,
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    error: 'chunk extensions of the body are larger than this server reads',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    error: 'request did not arrive within the time this server waits for one',
  },
};

/** Marks a socket whose malformed request has been answered. */
const ANSWERED = Symbol('answered');

/** A socket error that is the peer going away, not a request to answer. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);

type ServerSocket = Socket & { _httpMessage?: ServerResponse | null; [ANSWERED]?: true };

/**
 * Runs `then` once the answers owed to earlier, well-formed requests on this
 * socket are written; false when the bad bytes are the body of the request
 * being answered, whose answer is begun and cannot be replaced.
 */
function afterAnswersOwed(socket: ServerSocket, then: () => void): boolean {
  const owed = socket._httpMessage;
  if (!owed || owed.writableFinished) {
    then();
    return true;
  }
  if (!owed.req.complete) {
    // The refused bytes are this request's own body: the refusal is its answer, unless one is begun.
    if (owed.headersSent) return false;
    then();
    return true;
  }
  // Node hands the socket to the next pipelined answer on 'finish', before this listener runs.
  owed.once('finish', () => afterAnswersOwed(socket, then) || socket.destroy());
  return true;
}

/**
 * Answers a request Node's HTTP parser refused (a control character in a header,
 * a bad request line, conflicting lengths) as every other refusal is answered:
 * JSON `{"error"}`, then closes the connection, since the rest of the stream
 * cannot be trusted. Answers owed to earlier requests on the connection go
 * first. Returns the status, or null when there is no one to answer.
 */
function answerMalformed(
  err: NodeJS.ErrnoException & { reason?: string; bytesParsed?: number },
  socket: ServerSocket,
): number | null {
  // The parser repeats its error for every later chunk of the same stream: answered once.
  if (socket[ANSWERED]) return null;
  if ((err.code && PEER_GONE.has(err.code)) || !socket.writable || socket.destroyed) {
    socket.destroy();
    return null;
  }
  socket[ANSWERED] = true;
  const known = err.code ? PARSER_REFUSALS[err.code] : undefined;
  const reason = (err.reason ?? err.message.replace(/^Parse Error:\s*/, '')).replace(/\.$/, '');
  const where = err.bytesParsed === undefined ? '' : ` at byte ${err.bytesParsed}`;
  const status = known?.status ?? 400;
  const body = JSON.stringify({
    error:
      known?.error ??
      `malformed HTTP request: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}${where}${err.code ? ` (${err.code})` : ''}`,
    code: codeOfStatus(status),
  });
  const answered = afterAnswersOwed(socket, () => {
    // An earlier answer may have closed the connection (Connection: close): nothing more to say.
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // The socket closes once the peer closes its side; one that never does is cut. Not at
    // once: closing with the peer's bytes unread resets the connection, and the answer with it.
    setTimeout(() => socket.destroy(), 2_000).unref();
  });
  if (answered) return status;
  socket.destroy();
  return null;
}

/** Why a TLS connection ended before any request: what loadstar_tls_handshake_failures_total counts by. */
type HandshakeFailure = 'plain_http' | 'handshake';

/**
 * Ends a connection whose TLS handshake failed. A plain-HTTP request on a TLS
 * port gets a JSON 400 saying so, written in clear on the raw connection (the
 * client speaks no TLS); anything else (a client that does not trust our
 * certificate, a scanner) is just closed.
 */
function answerFailedHandshake(
  err: NodeJS.ErrnoException,
  socket: TLSSocket,
  url: URL,
): HandshakeFailure {
  // The connection under the TLS layer; Node keeps it as _parent (not public API: checked before use).
  const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
  if (err.code !== 'ERR_SSL_HTTP_REQUEST' || !raw || !raw.writable) {
    socket.destroy();
    return 'handshake';
  }
  // The port really listened on (the URL may say 0).
  const https = new URL(url.href);
  https.port = String(raw.localPort ?? url.port);
  const body = JSON.stringify({
    error: `this port speaks TLS: use ${https.origin}${https.pathname} (https://), not http://`,
  });
  raw.end(
    'HTTP/1.1 400 Bad Request\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  setTimeout(() => raw.destroy(), 2_000).unref();
  return 'plain_http';
}

interface ServeHooks {
  onMalformed(status: number): void;
  onHandshakeFailed(reason: HandshakeFailure): void;
}

function listenOne(
  handler: Handler,
  host: string,
  port: number,
  hooks: ServeHooks,
  tls?: { certificates: CertificateWatcher; url: URL },
): Promise<Server> {
  return new Promise((resolve, reject) => {
    let server: Server;
    if (tls) {
      const { cert, key } = tls.certificates.pair;
      const secure = createHttpsServer({ cert, key }, handler);
      // New handshakes get the new pair; connections already open keep theirs.
      tls.certificates.onChange((pair) =>
        secure.setSecureContext({ cert: pair.cert, key: pair.key }),
      );
      secure.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        hooks.onHandshakeFailed(answerFailedHandshake(err, socket, tls.url));
      });
      server = secure;
    } else {
      server = createServer(handler);
    }
    server.keepAliveTimeout = 65_000;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const status = answerMalformed(err, socket);
      if (status !== null) hooks.onMalformed(status);
    });
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Listens where the URL says; `localhost` means both loopback addresses. An
 * https:// URL is served with the certificate of `options.tls`, watched for
 * renewals until the listener closes.
 */
export async function listenHttp(
  handler: Handler,
  url: URL,
  options: ListenOptions = {},
): Promise<Listener> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const wantedPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  let certificates: CertificateWatcher | undefined;
  if (url.protocol === 'https:') {
    if (!options.tls) throw new Error(`${url.href} is https:// but no certificate was given`);
    certificates = new CertificateWatcher(options.tls, options.log ?? silentLog);
  }
  const servers: Server[] = [];
  // Refusals before the service has its registry are kept, and counted once it has.
  const early = new Map<number, number>();
  const earlyHandshakes = new Map<HandshakeFailure, number>();
  let onMalformed = (status: number): void => {
    early.set(status, (early.get(status) ?? 0) + 1);
  };
  let onHandshakeFailed = (reason: HandshakeFailure): void => {
    earlyHandshakes.set(reason, (earlyHandshakes.get(reason) ?? 0) + 1);
  };
  const hooks: ServeHooks = {
    onMalformed: (status) => onMalformed(status),
    onHandshakeFailed: (reason) => onHandshakeFailed(reason),
  };
  const tls = certificates && { certificates, url };
  try {
    if (host === 'localhost') {
      const v4 = await listenOne(handler, '127.0.0.1', wantedPort, hooks, tls);
      servers.push(v4);
      const port = (v4.address() as AddressInfo).port;
      // ::1 is absent on hosts without IPv6; 127.0.0.1 alone still serves `localhost` there.
      await listenOne(handler, '::1', port, hooks, tls).then(
        (v6) => servers.push(v6),
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EADDRNOTAVAIL' && err.code !== 'EAFNOSUPPORT') throw err;
        },
      );
    } else {
      servers.push(await listenOne(handler, host, wantedPort, hooks, tls));
    }
  } catch (err) {
    await closeServers(servers);
    throw err;
  }
  certificates?.start();
  const actual = new URL(url.href);
  actual.port = String((servers[0]!.address() as AddressInfo).port);
  return {
    url: actual,
    servers,
    certificates,
    close: () => {
      certificates?.stop();
      return closeServers(servers);
    },
    countMalformed(registry) {
      const counter = new Counter({
        name: 'loadstar_http_malformed_requests_total',
        help: "Requests refused by Node's HTTP parser before any route saw them, by status",
        labelNames: ['status'],
        registers: [registry],
      });
      for (const [status, n] of early) counter.inc({ status: String(status) }, n);
      early.clear();
      onMalformed = (status) => counter.inc({ status: String(status) });
      if (!certificates) return;
      const handshakes = new Counter({
        name: 'loadstar_tls_handshake_failures_total',
        help: 'Connections ended before any request because their TLS handshake failed, by reason (plain_http: an http:// request on the TLS port, answered 400)',
        labelNames: ['reason'],
        registers: [registry],
      });
      for (const [reason, n] of earlyHandshakes) handshakes.inc({ reason }, n);
      earlyHandshakes.clear();
      onHandshakeFailed = (reason) => handshakes.inc({ reason });
      const watched = certificates;
      new Gauge({
        name: 'loadstar_tls_certificate_expiry_timestamp_seconds',
        help: 'When the certificate being served expires (its notAfter), Unix time',
        registers: [registry],
        collect() {
          this.set(watched.pair.notAfterMs / 1000);
        },
      });
    },
  };
}

/** For a listener given no log: certificate events are then not reported. */
const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLog,
};

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
