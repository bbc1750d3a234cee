// What every fuzz suite shares: how many requests a property generates and
// from which seed (FUZZ_RUNS and FUZZ_SEED from the environment), how long an
// answer may take, the tally of answers printed at the end, and the memory of
// the process under fire.
import { rssBytes } from '../bench/proc-stat.ts';

/**
 * Requests in flight at once: each fast-check run is this many requests sent
 * together. Runs end on the first failure without shrinking (endOnFailure): the
 * error names the one request that broke the contract, and fifty shrink slowly.
 */
export const CONCURRENCY = 50;

/** Any answer must come within this. */
export const ANSWER_WITHIN_MS = 10_000;

/** A suite's mocha timeout: a long run (FUZZ_RUNS) takes what it takes. */
export const FUZZ_SUITE_TIMEOUT_MS = process.env.FUZZ_RUNS ? 0 : 180_000;

/** FUZZ_SEED when set (to replay a reported failure), else the suite's own. */
export function fuzzSeed(suiteSeed: number): number {
  return process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : suiteSeed;
}

/**
 * fast-check parameters for a property of `defaultRequests` requests sent
 * `together` at a time. FUZZ_RUNS replaces the default; a property of slow
 * requests takes only its `share` of it.
 */
export function propertyRuns(
  seed: number,
  defaultRequests: number,
  { together = CONCURRENCY, share = 1 } = {},
): { numRuns: number; seed: number; endOnFailure: true } {
  const requests = Number(process.env.FUZZ_RUNS) * share || defaultRequests;
  return { numRuns: Math.max(1, Math.ceil(requests / together)), seed, endOnFailure: true };
}

/** Answers by kind (a status, or a word for a cut connection), and requests sent. */
export class AnswerTally {
  private readonly counts = new Map<string, number>();
  private readonly started = Date.now();
  sent = 0;

  count(kind: string | number): void {
    const key = String(kind);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  get(kind: string | number): number {
    return this.counts.get(String(kind)) ?? 0;
  }

  /** One line for the test log: what was sent, how long it took, what came back. */
  summary(what: string, seed: number): string {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    const answers = [...this.counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, n]) => `${kind}:${n}`)
      .join(' ');
    return `      ${what} fuzz: ${this.sent} requests in ${seconds} s (seed ${seed}); answers ${answers}`;
  }
}

/** Resident memory of a process in MB, from the kernel's own count. */
export function rssMb(pid: number): number {
  return rssBytes(pid) / 2 ** 20;
}
