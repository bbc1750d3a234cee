// A service's port while it connects: it listens before NATS and Redis answer, so
// that an operator (or an orchestrator) sees it alive on /healthz and not ready on
// /readyz, naming the part it waits for, instead of a closed port. Once the
// connections are up, the service's own app takes over the same port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, type Settings } from './config.ts';
import { type Listener, listenHttp } from './http.ts';
import type { Log } from './log.ts';
import { readServerTls, type ServerTlsSettings } from './tls.ts';
import { TokenSet, tokenProblem } from './tokens.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The parts a service connects to before it can work. */
export type StartupPart = 'nats' | 'redis';

export interface StartupListener {
  listener: Listener;
  /** Marks a part connected; /readyz shows it until the service's app takes over. */
  connected(part: StartupPart): void;
  /** Hands every following request to the service's own app. */
  serve(handler: Handler): void;
}

/** Where a service listens: its URL, the certificate it serves for https://, who may read /metrics. */
export interface ListenSettings {
  url: URL;
  /** The certificate served when `url` is https:// (TLS_CERT_FILE, TLS_KEY_FILE). */
  tls?: ServerTlsSettings;
  /** Needed by /metrics when set (METRICS_TOKEN); open without. */
  metricsToken?: TokenSet;
}

/**
 * A service's ListenSettings: the URL of `setting` (http:// or https://), the
 * certificate for https://, and METRICS_TOKEN. Spread into its settings:
 * `...readListenSettings(s, 'STORE_URL', 'http://localhost:8091/')`.
 */
export function readListenSettings(s: Settings, setting: string, fallback: string): ListenSettings {
  const url = s.url(setting, fallback, ['http:', 'https:']);
  return {
    url,
    tls: readServerTls(s, setting, url),
    metricsToken: readMetricsToken(s),
  };
}

/** METRICS_TOKEN: one token, kept as a set of one so it is compared like every other. */
function readMetricsToken(s: Settings): TokenSet | undefined {
  const token = s.optionalString('METRICS_TOKEN');
  if (token === undefined) return undefined;
  const problem = tokenProblem(token);
  if (problem) throw new ConfigError('METRICS_TOKEN', problem);
  return new TokenSet([token]);
}

/**
 * Listens where `listen` says (with TLS for https://; certificate renewals are
 * logged to `log`), then runs `start` (which connects and finally calls
 * `serve`). A start that fails closes the port again, so nothing answers for a
 * dead service.
 */
export async function listenWhileStarting<T>(
  { url, tls }: ListenSettings,
  log: Log,
  start: (startup: StartupListener) => Promise<T>,
): Promise<T> {
  const parts: Record<StartupPart, boolean> = { nats: false, redis: false };
  const starting: Handler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    let status = 503;
    let body: object;
    if (path.endsWith('/healthz')) {
      status = 200;
      body = { status: 'ok' };
    } else if (path.endsWith('/readyz')) {
      body = { ready: false, starting: true, ...parts };
    } else {
      const waiting = (Object.keys(parts) as StartupPart[]).filter((p) => !parts[p]);
      const names = waiting.map((p) => (p === 'nats' ? 'NATS' : 'Redis')).join(' and ');
      body = {
        error: `starting: waiting for ${names || 'the service to finish starting'}; retry later`,
      };
      res.setHeader('Retry-After', '1');
    }
    // The rest of a request body is read and dropped, so the client gets this answer.
    req.resume();
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  };
  let current: Handler = starting;
  const listener = await listenHttp((req, res) => current(req, res), url, { tls, log });
  try {
    return await start({
      listener,
      connected: (part) => {
        parts[part] = true;
      },
      serve: (handler) => {
        current = handler;
      },
    });
  } catch (err) {
    await listener.close();
    throw err;
  }
}
