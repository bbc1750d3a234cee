// gRPC delivery latency: for each subscriber count, a separate process
// (grpc-subscribers.ts) opens the streams, posts samples at a steady rate and
// measures receive time minus each sample's own time. Meanwhile this side
// charges the CPU of the gateway and the subscribers to the measured window.
import { type LatencySummary, median } from './percentile.ts';
import { CpuMeter } from './proc-stat.ts';
import type { Processes } from './processes.ts';

export interface DeliverySpec {
  grpcAddress: string;
  receiverUrl: string;
  subscribers: number;
  /** Subscribers sharing one connection, as the streams of one client process would. */
  perConnection: number;
  host: string;
  topics: string[];
  /** Samples posted per second. */
  rate: number;
  measureMs: number;
  /** The measured span is cut in this many windows; figures are their medians, so one hiccup is not quoted. */
  windows: number;
  warmupMaxMs: number;
  body: string;
}

export interface DeliveryResult {
  posted: number;
  postFailures: number;
  /** Subscribers times accepted posts: what every subscriber should have received. */
  expected: number;
  received: number;
  /** Receive time minus the sample's time_ms, milliseconds, over the whole span. */
  latency: LatencySummary;
  /** The same per window. */
  windows: LatencySummary[];
  streamErrors: number;
  firstError?: string;
}

export type SubscribersMessage =
  | { kind: 'measuring' }
  | { kind: 'measured' }
  | { kind: 'result'; result: DeliveryResult }
  | { kind: 'error'; error: string };

export interface DeliveryFigures extends DeliveryResult {
  subscribers: number;
  /** Medians over the windows. */
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds per process over the measured window, and that window's length. */
  cpuSeconds: Map<string, number>;
  windowMs: number;
}

export async function measureDelivery(
  processes: Processes,
  spec: DeliverySpec,
  charged: ReadonlyMap<string, number>,
): Promise<DeliveryFigures> {
  const child = processes.startNode(
    `subscribers-${spec.subscribers}`,
    'test/bench/grpc-subscribers.ts',
    {},
    { ipc: true },
  );
  const meter = new CpuMeter(new Map([...charged, ['subscribers', child.pid]]));
  let windowStart = 0;
  let windowMs = 0;
  // Bounded: the child's own bounds plus room for 1,000 streams to open and close.
  const limitMs = spec.warmupMaxMs + spec.measureMs + 60_000;
  try {
    const result = await new Promise<DeliveryResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`subscribers gave no result within ${limitMs} ms`)),
        limitMs,
      );
      child.process.on('message', (message: SubscribersMessage) => {
        if (message.kind === 'measuring') {
          meter.begin();
          windowStart = performance.now();
        } else if (message.kind === 'measured') {
          meter.end();
          windowMs = performance.now() - windowStart;
        } else {
          clearTimeout(timer);
          if (message.kind === 'result') resolve(message.result);
          else reject(new Error(`${spec.subscribers} subscribers: ${message.error}`));
        }
      });
      child.process.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`subscribers exited (${signal ?? code}):\n${child.tail()}`));
      });
      child.process.send(spec);
    });
    return {
      ...result,
      subscribers: spec.subscribers,
      p50Ms: median(result.windows.map((w) => w.p50)),
      p99Ms: median(result.windows.map((w) => w.p99)),
      cpuSeconds: meter.seconds(),
      windowMs,
    };
  } finally {
    await processes.stop(child);
  }
}
