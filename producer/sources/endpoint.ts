// The one HTTP GET a remote source makes: its own headers, the collection's
// signal as its deadline, and a bounded body. Never reads past the size limit:
// a runaway endpoint must not take the agent's memory with it.
import { type Answer, request } from '../../deploy/runtime/request.ts';

export interface Endpoint {
  url: URL;
  /** Sent with every request (e.g. Authorization); they win over our Accept. */
  headers: Readonly<Record<string, string>>;
}

/** What every remote source's entry in the sources file gives, checked (file.ts). */
export interface RemoteSettings extends Endpoint {
  /** Unique among the sources; shown in logs and failure counts. */
  name: string;
  /** Seconds between two polls (default: the agent's INTERVAL). */
  intervalSeconds: number;
  /** Longest one poll may take, ms (default: the agent's SOURCE_TIMEOUT). */
  timeoutMs: number;
}

/** Largest answer read from a remote source. node_exporter's is about 100 KB. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** GETs the endpoint; rejects on a refused connection, a status other than 2xx, or an oversized body. */
export async function fetchEndpoint(
  endpoint: Endpoint,
  accept: string,
  signal: AbortSignal,
  maxBytes = MAX_ANSWER_BYTES,
): Promise<string> {
  let answer: Answer;
  try {
    answer = await request(endpoint.url, {
      method: 'GET',
      headers: { accept, ...endpoint.headers },
      signal,
      maxBytes,
    });
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(message.includes('limit') ? message : `request failed: ${message}`);
  }
  if (answer.status < 200 || answer.status > 299) throw new Error(`answered HTTP ${answer.status}`);
  return answer.text;
}
