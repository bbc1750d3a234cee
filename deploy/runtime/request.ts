// Every HTTP request the agent and the notifier make (posts to the receiver,
// polls of remote sources, deliveries to webhooks), through Node's http and
// https clients rather than fetch: fetch takes no CA of our own (TLS_CA_FILE)
// without undici's Agent, and undici, which fetch loads, costs about 12 MB of
// memory and needs WebAssembly, which the agent's lite mode (V8 without a
// compiler) turns off. Follows no redirect. Bounded: an answer past `maxBytes`
// or `timeoutMs` is cut off, never read on.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { SecureContext } from 'node:tls';
import { LoadstarError } from '../../proto/errors.ts';
import type { Trust } from './trust.ts';

export interface RequestSettings {
  method: 'GET' | 'POST';
  headers: Readonly<Record<string, string>>;
  body?: string;
  /** Ends the request (its reason is the error). */
  signal?: AbortSignal;
  timeoutMs?: number;
  maxBytes: number;
  /** Whom to trust for https:// besides the system's CAs (TLS_CA_FILE). */
  trust?: Trust;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A request that failed before an answer came (code `request_failed`). */
export class RequestError extends LoadstarError {
  constructor(
    message: string,
    /** The system's error code (ECONNREFUSED…) when there is one. */
    readonly systemCode?: string,
    /** It failed on a kept-alive connection reused from an earlier request. */
    readonly reused = false,
  ) {
    super('request_failed', message);
    this.name = 'RequestError';
  }
}

// Connections are kept alive and reused from one interval to the next; https
// ones only by requests that trust the same CAs (one pool per Trust), so a
// connection verified against TLS_CA_FILE is never lent to a request without it.
const httpAgent = new HttpAgent({ keepAlive: true });
let httpsAgent: HttpsAgent | undefined;
const trustingAgents = new WeakMap<Trust, HttpsAgent>();

export async function request(url: URL, settings: RequestSettings): Promise<Answer> {
  let send = httpRequest;
  let agent: HttpAgent | HttpsAgent = httpAgent;
  let secureContext: SecureContext | undefined;
  if (url.protocol === 'https:') {
    // Loaded only for an https URL: TLS costs memory an http-only agent need not pay.
    const https = await import('node:https');
    send = https.request as typeof httpRequest;
    const { trust } = settings;
    if (trust) {
      const pool = trustingAgents.get(trust) ?? new https.Agent({ keepAlive: true });
      trustingAgents.set(trust, pool);
      agent = pool;
      secureContext = await trust.secureContext();
    } else {
      httpsAgent ??= new https.Agent({ keepAlive: true });
      agent = httpsAgent;
    }
  }
  const once = () => exchange(send, agent, url, settings, secureContext);
  try {
    return await once();
  } catch (err) {
    // A kept-alive connection the server closed just as it was reused: the
    // request never arrived, so it goes again, once, on a new connection.
    if (err instanceof RequestError && err.reused && err.systemCode === 'ECONNRESET') return once();
    throw err;
  }
}

function exchange(
  send: typeof httpRequest,
  agent: HttpAgent | HttpsAgent,
  url: URL,
  settings: RequestSettings,
  secureContext?: SecureContext,
): Promise<Answer> {
  const { method, body, signal, timeoutMs, maxBytes } = settings;
  const headers: Record<string, string> = { ...settings.headers };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestError(abortReason(signal)));
      return;
    }
    const options = { method, headers, agent, ...(secureContext && { secureContext }) };
    const req = send(url, options, (res) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        req.destroy(
          new RequestError(`answer of ${declared} bytes is over the ${maxBytes}-byte limit`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes)
          req.destroy(new RequestError(`answer is over the ${maxBytes}-byte limit`));
        else chunks.push(chunk);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', (err) => reject(asRequestError(err, req.reusedSocket)));
    });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => req.destroy(new RequestError(`no answer within ${timeoutMs} ms (timeout)`)),
            timeoutMs,
          );
    const onAbort = () => req.destroy(new RequestError(abortReason(signal!)));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => reject(asRequestError(err, req.reusedSocket)));
    req.on('close', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
    req.end(body);
  });
}

function asRequestError(err: Error, reusedSocket: boolean): RequestError {
  if (err instanceof RequestError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return new RequestError(code ?? err.message, code, reusedSocket);
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return 'timed out';
  return reason instanceof Error ? reason.message : 'aborted';
}
