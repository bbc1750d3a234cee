// What the fault and cluster suites watch from outside the pipeline: the
// acknowledgements the simulated agents got, and gRPC subscribers that resume
// from their last stream position after every error, on the next gateway.
import type * as grpc from '@grpc/grpc-js';
import type { LoadstarClient, SampleEvent__Output } from '../../proto/grpc.ts';

interface AgentsStatus {
  agents: { host: string; sent: number; longest_ack_gap_ms?: number }[];
}

/** Sums what the agents report as delivered, across their restarts (a counter that went down restarted from 0). */
export class Acknowledged {
  private total = 0;
  private last = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly url: string) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), 250);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<number> {
    try {
      const body = (await (
        await fetch(this.url, { signal: AbortSignal.timeout(1_000) })
      ).json()) as AgentsStatus;
      const now = body.agents.reduce((sum, a) => sum + a.sent, 0);
      this.total += now >= this.last ? now - this.last : now;
      this.last = now;
    } catch {
      // The agents are down or stopped (those faults): nothing to add; a restart shows as a counter that went down.
    }
    return this.total;
  }

  /** The longest any agent went without a 200 since `since` (epoch ms), and which agent. */
  async longestGap(since: number): Promise<{ ms: number; host: string }> {
    const url = new URL(this.url);
    url.searchParams.set('since', String(since));
    const body = (await (
      await fetch(url, { signal: AbortSignal.timeout(5_000) })
    ).json()) as AgentsStatus;
    let longest = { ms: 0, host: '' };
    for (const agent of body.agents) {
      const ms = agent.longest_ack_gap_ms ?? 0;
      if (ms > longest.ms) longest = { ms, host: agent.host };
    }
    return longest;
  }
}

/** One sample event as a subscriber got it. */
export interface Received {
  host: string;
  /** The agent's own counter (metric `seq`). */
  seq: number;
  /** Its position in the samples stream. */
  position: number;
}

/**
 * A gRPC subscriber to some hosts (all when none) that, after any error, resumes
 * from the stream position after the last event it got: on the next gateway of
 * its list, so that a gateway's death moves it to another.
 */
export class Subscriber {
  readonly received: Received[] = [];
  reconnects = 0;
  private last = 0;
  private current: number;
  private stream?: grpc.ClientReadableStream<SampleEvent__Output>;
  private stopped = false;

  constructor(
    private readonly gateways: LoadstarClient[],
    private readonly hosts: string[],
    first = 0,
  ) {
    this.current = first;
  }

  /** Index of the gateway it uses (or tries) now. */
  get gateway(): number {
    return this.current;
  }

  start(): void {
    if (this.stopped) return;
    const stream = this.gateways[this.current]!.Subscribe({
      hosts: this.hosts,
      topics: ['seq'],
      from_seq: this.last + 1,
    });
    this.stream = stream;
    let over = false;
    const resume = () => {
      if (over || this.stopped) return;
      over = true;
      this.reconnects++;
      this.current = (this.current + 1) % this.gateways.length;
      // A short pause, so that a gateway that refuses at once is not hammered.
      setTimeout(() => this.start(), 500);
    };
    stream.on('data', (e: SampleEvent__Output) => {
      this.last = Number(e.seq);
      this.received.push({ host: e.host, seq: e.metrics.seq!, position: this.last });
    });
    stream.on('error', resume);
    stream.on('end', resume);
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
  }

  /** The `seq` of each event of `host`, in the order they came. */
  seqsOf(host: string): number[] {
    return this.received.filter((r) => r.host === host).map((r) => r.seq);
  }
}
