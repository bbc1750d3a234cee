// The subscribers process: opens N gRPC Subscribe streams on the gateway, posts
// samples to the receiver at a steady rate with Loadstar-Time set at send time,
// and records receive time minus time_ms for every delivery. One run per process;
// every step is bounded in count and time. It exits when its parent goes.
import * as grpc from '@grpc/grpc-js';
import {
  createLoadstarClient,
  type LoadstarClient,
  type SampleEvent__Output,
} from '../../proto/grpc.ts';
import type { DeliveryResult, DeliverySpec, SubscribersMessage } from './grpc-latency.ts';
import { summarize } from './percentile.ts';

/** After the last post, how long deliveries still in flight are waited for. */
const STRAGGLER_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function tell(message: SubscribersMessage): void {
  process.send?.(message);
}

async function measure(spec: DeliverySpec): Promise<DeliveryResult> {
  const clients: LoadstarClient[] = [];
  const calls: grpc.ClientReadableStream<SampleEvent__Output>[] = [];
  const measuredPosts = Math.round((spec.rate * spec.measureMs) / 1000);
  const postsPerWindow = Math.ceil(measuredPosts / spec.windows);
  const windows = Array.from({ length: spec.windows }, () => ({
    latencies: new Float64Array(spec.subscribers * postsPerWindow),
    count: 0,
  }));
  const warm = new Uint8Array(spec.subscribers);
  let warmCount = 0;
  let received = 0;
  let streamErrors = 0;
  let firstError: string | undefined;

  for (let i = 0; i < spec.subscribers; i++) {
    if (i % spec.perConnection === 0) {
      // A local subchannel pool gives each client its own connection, as separate processes would have.
      clients.push(
        createLoadstarClient(spec.grpcAddress, undefined, { 'grpc.use_local_subchannel_pool': 1 }),
      );
    }
    const call = clients.at(-1)!.Subscribe({ hosts: [spec.host], topics: spec.topics });
    call.on('data', (event: SampleEvent__Output) => {
      const at = Date.now();
      if (warm[i] === 0) {
        warm[i] = 1;
        warmCount++;
      }
      if (!event.id.startsWith('m-')) return;
      const window = windows[Math.floor(Number(event.id.slice(2)) / postsPerWindow)];
      if (window && window.count < window.latencies.length) {
        window.latencies[window.count++] = at - Number(event.time_ms);
        received++;
      }
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.CANCELLED) return;
      streamErrors++;
      firstError ??= err.message;
    });
    calls.push(call);
  }

  let posted = 0;
  let accepted = 0;
  let postFailures = 0;
  const post = async (id: string) => {
    posted++;
    try {
      const res = await fetch(spec.receiverUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'Loadstar-Host': spec.host,
          'Loadstar-Sample-Id': id,
          'Loadstar-Time': String(Date.now()),
        },
        body: spec.body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status === 200) return true;
      firstError ??= `post answered ${res.status}`;
    } catch (err) {
      firstError ??= `post failed: ${(err as Error).message}`;
    }
    postFailures++;
    return false;
  };

  try {
    // Streams open lazily and the server sends nothing until a sample matches,
    // so "subscribed" is known only once each stream has received a first sample.
    const periodMs = 1000 / spec.rate;
    const warmupPosts = Math.ceil((spec.warmupMaxMs / 1000) * spec.rate);
    for (let k = 0; k < warmupPosts && warmCount < spec.subscribers; k++) {
      void post(`w-${k}`);
      await sleep(periodMs);
    }
    if (warmCount < spec.subscribers) {
      throw new Error(
        `only ${warmCount} of ${spec.subscribers} subscribers received a sample within ${spec.warmupMaxMs} ms (${firstError ?? 'no error'})`,
      );
    }
    // Let the warm-up's last deliveries pass before the measured window opens.
    await sleep(500);

    tell({ kind: 'measuring' });
    const started = performance.now();
    const posts: Promise<boolean>[] = [];
    for (let k = 0; k < measuredPosts; k++) {
      // A fixed schedule, not "sleep after each post": a slow answer must not lower the rate.
      await sleep(started + k * periodMs - performance.now());
      posts.push(post(`m-${k}`));
    }
    accepted = (await Promise.all(posts)).filter(Boolean).length;
    const deadline = performance.now() + STRAGGLER_MS;
    while (received < spec.subscribers * accepted && performance.now() < deadline) await sleep(20);
    tell({ kind: 'measured' });
  } finally {
    for (const call of calls) call.cancel();
    for (const client of clients) client.close();
  }
  return {
    posted,
    postFailures,
    expected: spec.subscribers * accepted,
    received,
    latency: summarize(
      Float64Array.from(windows.flatMap((w) => [...w.latencies.subarray(0, w.count)])),
    ),
    windows: windows.map((w) => summarize(w.latencies.subarray(0, w.count))),
    streamErrors,
    firstError,
  };
}

process.once('message', (spec: DeliverySpec) => {
  measure(spec).then(
    (result) => tell({ kind: 'result', result }),
    (err: Error) => tell({ kind: 'error', error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
