// The one HTTP GET a remote source makes: its own headers, the collection's
// signal as its deadline, and a bounded body. Never reads past the size limit:
// a runaway endpoint must not take the agent's memory with it.

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
  let res: Response;
  try {
    res = await fetch(endpoint.url, { headers: { accept, ...endpoint.headers }, signal });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`request failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`answer of ${declared} bytes is over the ${maxBytes}-byte limit`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`answer is over the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
