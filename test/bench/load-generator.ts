// The load generator process: runs one LoadSpec at a time, sent by load.ts over
// IPC, and answers with counts and latencies. Every run stops at its duration or
// its request count, whichever comes first. It exits when its parent goes.
import { Agent, request } from 'node:http';
import type { GeneratorReply, GeneratorRequest, LoadResult, LoadSpec } from './load.ts';
import { summarize } from './percentile.ts';

/** A request that takes longer has failed; it must not hold a run past its deadline for long. */
const REQUEST_TIMEOUT_MS = 10_000;

function send(
  agent: Agent,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.clients.length });
  // The count bound sizes the buffer once, so recording a latency never allocates.
  const latencies = new Float64Array(spec.maxRequests);
  let issued = 0;
  let ok = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const deadline = started + spec.durationMs;

  const client = async (index: number) => {
    const { headers, bodies } = spec.clients[index]!;
    const encoded = bodies.map((b) => Buffer.from(b));
    for (let n = 0; issued < spec.maxRequests && performance.now() < deadline; n++) {
      issued++;
      const sent = spec.stampSamples
        ? {
            ...headers,
            'Loadstar-Sample-Id': `${spec.runId}-${index}-${n}`,
            'Loadstar-Time': String(Date.now()),
          }
        : headers;
      const begin = performance.now();
      try {
        const body = encoded.length > 0 ? encoded[n % encoded.length] : undefined;
        const status = await send(agent, url, spec.method, sent, body);
        if (status === 200) latencies[ok++] = performance.now() - begin;
        else {
          failed++;
          firstFailure ??= `status ${status}`;
        }
      } catch (err) {
        failed++;
        firstFailure ??= (err as Error).message;
      }
    }
  };
  await Promise.all(spec.clients.map((_, i) => client(i)));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return {
    ok,
    failed,
    firstFailure,
    elapsedMs,
    perSecond: ok / (elapsedMs / 1000),
    latency: summarize(latencies.subarray(0, ok)),
  };
}

function reply(message: GeneratorReply): void {
  process.send?.(message);
}

process.on('message', (message: GeneratorRequest) => {
  runLoad(message.spec).then(
    (result) => reply({ id: message.id, result }),
    (err: Error) => reply({ id: message.id, error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
