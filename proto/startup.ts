// A service's port while it connects: it listens before NATS and Redis answer, so
// that an operator (or an orchestrator) sees it alive on /healthz and not ready on
// /readyz, naming the part it waits for, instead of a closed port. Once the
// connections are up, the service's own app takes over the same port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Listener, listenHttp } from './http.ts';

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

/**
 * Listens at `url`, then runs `start` (which connects and finally calls `serve`).
 * A start that fails closes the port again, so nothing answers for a dead service.
 */
export async function listenWhileStarting<T>(
  url: URL,
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
  const listener = await listenHttp((req, res) => current(req, res), url);
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
