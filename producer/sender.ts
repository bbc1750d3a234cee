// Delivers the spool to the receiver, oldest first: one sample as the flat JSON
// of docs/CONTRACT.md, a backlog in batches. A 5xx, a timeout or a refused connection
// is retried with backoff (trying the next receiver URL, when several are set);
// a 4xx is a bug on one side, logged loudly and not retried.

import type { Log } from '../deploy/runtime/log.ts';
import { type Answer, request } from '../deploy/runtime/request.ts';
import type { Trust } from '../deploy/runtime/trust.ts';
import { renderValues } from '../proto/float.ts';
import { encodeSample, type Sample } from '../proto/sample.ts';
import type { Spool, SpoolBatch } from './spool.ts';

export interface SenderSettings {
  receivers: URL[];
  /** Most samples in one post (BATCH_SIZE). */
  batchSize: number;
  /** Highest rate at which a backlog is sent, samples/s (DRAIN_RATE). */
  drainRate: number;
  /** Per-request timeout. */
  requestTimeoutMs: number;
  /** Sent as a bearer token when set (INGEST_TOKEN). */
  token?: string;
  /** Whom to trust for https:// receivers besides the system's CAs (TLS_CA_FILE). */
  trust?: Trust;
}

export interface SenderCounters {
  sent: number;
  rejected: number;
  retries: number;
}

type Outcome =
  | { kind: 'delivered'; rejected: { index: number; error: string }[] }
  | { kind: 'retry'; reason: string; retryAfterMs?: number; switchReceiver: boolean }
  | { kind: 'too_large' }
  | { kind: 'refused'; status: number; error: string };

/** Largest answer read from a receiver; its answers are a few hundred bytes. */
const MAX_ANSWER_BYTES = 1024 * 1024;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

export class Sender {
  readonly counters: SenderCounters = { sent: 0, rejected: 0, retries: 0 };
  private receiver = 0;
  private wakeUp: (() => void) | null = null;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private failingSince = 0;

  constructor(
    private readonly spool: Spool,
    private readonly settings: SenderSettings,
    private readonly log: Log,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** New samples are in the spool. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Finishes the post in flight (it is safe to repeat) and stops; the spool keeps the rest. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await this.loop;
  }

  /** Delivers until the spool is empty or `deadlineMs` passes; true when empty. */
  async flush(deadlineMs: number): Promise<boolean> {
    const until = Date.now() + deadlineMs;
    while (this.spool.depth > 0 && Date.now() < until) {
      this.wake();
      await sleep(20);
    }
    return this.spool.depth === 0;
  }

  private async run(): Promise<void> {
    let backoff = 500;
    let batchSize = this.settings.batchSize;
    while (!this.stopping.signal.aborted) {
      const batch = await this.spool.peek(batchSize);
      if (batch.samples.length === 0) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
          if (this.spool.depth > 0 || this.stopping.signal.aborted) resolve();
        });
        this.wakeUp = null;
        continue;
      }
      const started = Date.now();
      const outcome = await this.post(batch);
      switch (outcome.kind) {
        case 'delivered': {
          for (const r of outcome.rejected) {
            this.log.error('receiver refused a sample: this is a bug, not retried', {
              host: batch.samples[r.index]?.host,
              error: r.error,
            });
          }
          this.counters.sent += batch.samples.length - outcome.rejected.length;
          this.counters.rejected += outcome.rejected.length;
          await this.spool.commit(batch);
          if (this.failingSince > 0) {
            this.log.info('receiver reachable again; delivering the backlog', {
              outage_s: Math.round((Date.now() - this.failingSince) / 1000),
              waiting: this.spool.depth,
            });
            this.failingSince = 0;
          }
          backoff = 500;
          batchSize = this.settings.batchSize;
          // Bound the catch-up rate so that many agents returning at once do not flatten a receiver.
          if (batch.samples.length > 1) {
            await sleep(
              Math.max(
                0,
                (batch.samples.length / this.settings.drainRate) * 1000 - (Date.now() - started),
              ),
            );
          }
          break;
        }
        case 'too_large':
          batchSize = Math.max(1, Math.floor(batch.samples.length / 2));
          this.log.warn('receiver said the batch is too large; halving it', { batch: batchSize });
          break;
        case 'refused':
          this.log.error('receiver refused the post: this is a bug, not retried; samples dropped', {
            status: outcome.status,
            error: outcome.error,
            samples: batch.samples.length,
          });
          this.counters.rejected += batch.samples.length;
          await this.spool.commit(batch);
          break;
        case 'retry': {
          this.counters.retries++;
          if (this.failingSince === 0) {
            this.failingSince = Date.now();
            this.log.warn('receiver unavailable; keeping samples in the spool', {
              receiver: this.settings.receivers[this.receiver]!.href,
              reason: outcome.reason,
            });
          }
          if (outcome.switchReceiver && this.settings.receivers.length > 1) {
            this.receiver = (this.receiver + 1) % this.settings.receivers.length;
            this.log.info('trying the next receiver', {
              receiver: this.settings.receivers[this.receiver]!.href,
            });
            if (this.receiver !== 0) break; // try every receiver once before backing off
          }
          const wait = outcome.retryAfterMs ?? backoff * (0.8 + Math.random() * 0.4);
          backoff = Math.min(backoff * 2, 30_000);
          await sleep(wait, this.stopping.signal);
          break;
        }
      }
    }
  }

  private headers(host: string): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'loadstar-host': host,
      'loadstar-spool-depth': String(this.spool.depth),
      'loadstar-spool-dropped': String(this.spool.dropped),
    };
    if (this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    return headers;
  }

  private async post(batch: SpoolBatch): Promise<Outcome> {
    const base = this.settings.receivers[this.receiver]!;
    const samples = batch.samples;
    let url: URL;
    let headers: Record<string, string>;
    let body: string;
    if (samples.length === 1) {
      const s = samples[0]!;
      url = base;
      headers = {
        ...this.headers(s.host),
        'loadstar-time': String(s.time),
        'loadstar-sample-id': s.id,
        'loadstar-interval': String(s.interval),
      };
      body = renderValues(Object.entries(s.metrics));
    } else {
      url = new URL(`${base.pathname.replace(/\/+$/, '')}/batch`, base);
      headers = this.headers(samples[0]!.host);
      body = `{"samples":[${samples.map((s: Sample) => encodeSample(s)).join(',')}]}`;
    }
    let res: Answer;
    try {
      res = await request(url, {
        method: 'POST',
        headers,
        body,
        timeoutMs: this.settings.requestTimeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        trust: this.settings.trust,
      });
    } catch (err) {
      return { kind: 'retry', reason: (err as Error).message, switchReceiver: true };
    }
    const text = res.text;
    if (res.status === 200) {
      let rejected: { index: number; error: string }[] = [];
      try {
        rejected = (JSON.parse(text) as { rejected?: typeof rejected }).rejected ?? [];
      } catch {
        // A 200 without our JSON body: the samples were accepted all the same.
      }
      return { kind: 'delivered', rejected };
    }
    const error = (() => {
      try {
        return String((JSON.parse(text) as { error?: unknown }).error ?? text);
      } catch {
        return text.slice(0, 200);
      }
    })();
    const retryAfter = Number(res.headers['retry-after']);
    const retryAfterMs =
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
    if (res.status >= 500)
      return {
        kind: 'retry',
        reason: `${res.status} ${error}`,
        retryAfterMs,
        switchReceiver: true,
      };
    if (res.status === 408 || res.status === 429)
      return {
        kind: 'retry',
        reason: `${res.status} ${error}`,
        retryAfterMs,
        switchReceiver: false,
      };
    if (res.status === 413 && samples.length > 1) return { kind: 'too_large' };
    return { kind: 'refused', status: res.status, error };
  }
}
