// Drives HTTP load from its own process (load-generator.ts), so the clients never
// share an event loop with what they measure. The same generator hits loadstar
// and the bare-Koa ceiling, which is what makes their ratio fair.
import type { LatencySummary } from './percentile.ts';
import type { Child, Processes } from './processes.ts';

/** One concurrent client: its own keep-alive connection, headers and bodies (cycled). */
export interface LoadClient {
  headers: Record<string, string>;
  /** Empty for GET. */
  bodies: string[];
}

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  /** One per concurrent client; their number is the concurrency. */
  clients: LoadClient[];
  durationMs: number;
  maxRequests: number;
  /** Adds Loadstar-Sample-Id and Loadstar-Time to each request, as a producer does. */
  stampSamples: boolean;
  /** Prefix of the stamped sample ids, unique per run so no post is a retry of another. */
  runId: string;
  /**
   * Posts batches of this many samples (`{"samples": [...]}`, each with its own id
   * and time, metrics from the client's bodies), as an agent catching up does.
   */
  batch?: number;
}

export interface LoadResult {
  /** Answers with status 200. */
  ok: number;
  /** Samples those answers accepted (one per answer, or a batch's `accepted`). */
  samples: number;
  /** Other statuses and transport errors. */
  failed: number;
  firstFailure?: string;
  elapsedMs: number;
  perSecond: number;
  /** Of the 200 answers, in milliseconds. */
  latency: LatencySummary;
}

export type GeneratorRequest = { id: number; spec: LoadSpec };
export type GeneratorReply = { id: number; result: LoadResult } | { id: number; error: string };

export class LoadGenerator {
  private next = 0;
  private readonly waiting = new Map<number, (reply: GeneratorReply) => void>();

  private constructor(readonly child: Child) {
    child.process.on('message', (reply: GeneratorReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    child.process.once('exit', (code, signal) => {
      for (const [id, answer] of this.waiting) {
        answer({ id, error: `load generator exited (${signal ?? code}):\n${child.tail()}` });
      }
      this.waiting.clear();
    });
  }

  static start(processes: Processes): LoadGenerator {
    return new LoadGenerator(
      processes.startNode('load', 'test/bench/load-generator.ts', {}, { ipc: true }),
    );
  }

  async run(spec: LoadSpec): Promise<LoadResult> {
    const id = this.next++;
    const reply = await new Promise<GeneratorReply>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.process.send({ id, spec } satisfies GeneratorRequest);
    });
    if ('error' in reply) throw new Error(reply.error);
    return reply.result;
  }
}
