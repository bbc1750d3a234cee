// The load generator process: runs one LoadSpec at a time, sent by load.ts over
// IPC, and answers with counts and latencies. Every run stops at its duration or
// its request count, whichever comes first. It exits when its parent goes.
import { Agent, request } from 'node:http';
import type { GeneratorReply, GeneratorRequest, LoadResult, LoadSpec } from './load.ts';
import { summarize } from './percentile.ts';

/** A request that takes longer has failed; it must not hold a run past its deadline for long. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Sends one request; resolves with its status and, for a JSON answer, the `accepted` it names. */
function send(
  agent: Agent,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  readAnswer: boolean,
): Promise<{ status: number; accepted?: number }> {
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
        const chunks: Buffer[] = [];
        if (readAnswer) res.on('data', (chunk: Buffer) => chunks.push(chunk));
        else res.resume();
        res.once('end', () => {
          let accepted: number | undefined;
          if (readAnswer) {
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString()) as { accepted?: unknown };
              if (typeof answer.accepted === 'number') accepted = answer.accepted;
            } catch {
              // Not JSON (the bare-Koa ceiling answers plain text): nothing counted from it.
            }
          }
          resolve({ status: res.statusCode ?? 0, accepted });
        });
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

/** A batch body of `size` samples, ids and times of their own, metrics cycled from the client's. */
function batchBody(
  spec: LoadSpec,
  client: number,
  n: number,
  bodies: string[],
  size: number,
): Buffer {
  const now = Date.now();
  const samples: string[] = [];
  for (let k = 0; k < size; k++) {
    samples.push(
      `{"id":"${spec.runId}-${client}-${n}-${k}","time":${now - size + k},"metrics":${bodies[(n * size + k) % bodies.length]}}`,
    );
  }
  return Buffer.from(`{"samples":[${samples.join(',')}]}`);
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.clients.length });
  // The count bound sizes the buffer once, so recording a latency never allocates.
  const latencies = new Float64Array(spec.maxRequests);
  let issued = 0;
  let ok = 0;
  let samples = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const deadline = started + spec.durationMs;

  const client = async (index: number) => {
    const { headers, bodies } = spec.clients[index]!;
    const encoded = bodies.map((b) => Buffer.from(b));
    for (let n = 0; issued < spec.maxRequests && performance.now() < deadline; n++) {
      issued++;
      const sent =
        spec.stampSamples && !spec.batch
          ? {
              ...headers,
              'Loadstar-Sample-Id': `${spec.runId}-${index}-${n}`,
              'Loadstar-Time': String(Date.now()),
            }
          : headers;
      const body = spec.batch
        ? batchBody(spec, index, n, bodies, spec.batch)
        : encoded.length > 0
          ? encoded[n % encoded.length]
          : undefined;
      const begin = performance.now();
      try {
        const { status, accepted } = await send(agent, url, spec.method, sent, body, !!spec.batch);
        if (status === 200) {
          latencies[ok++] = performance.now() - begin;
          samples += spec.batch ? (accepted ?? spec.batch) : 1;
        } else {
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
    samples,
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
