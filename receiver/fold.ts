// Folds a sample into Redis: the host's keys in one script, the keys that span
// hosts in another (a different cluster slot). Both are idempotent, so the
// receiver (write-through, for read-your-writes) and the storage consumer (from
// the stream) may fold the same sample in any order, any number of times.
import { readFileSync } from 'node:fs';
import { Cluster, type Result } from 'ioredis';
import { keys } from '../proto/keys.ts';
import { emptyRules, foldForm, type RecordingRules } from '../proto/recording.ts';
import type { RedisClient, RedisSettings } from '../proto/redis.ts';
import type { Retention } from '../proto/retention.ts';
import type { Sample } from '../proto/sample.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarFoldHost(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number, Context>;
    loadstarFold(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number, Context>;
    loadstarFoldLatest(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<number, Context>;
  }
}

const FOLD_HOST = readFileSync(new URL('./fold-host.lua', import.meta.url), 'utf8');
const FOLD_LATEST = readFileSync(new URL('./fold-latest.lua', import.meta.url), 'utf8');
/**
 * Both scripts as one, for a single Redis server, where keys of different hash
 * tags may meet in one script: one round trip per sample instead of two. The
 * cross-host part runs first, as in the two-call form.
 * KEYS: seen, latest, hosts, all hosts' recording rules. ARGV: the host script's ARGV, then the host name.
 */
const FOLD_BOTH = `local function fold_latest(KEYS, ARGV)
${FOLD_LATEST}
end
local function fold_host(KEYS, ARGV)
${FOLD_HOST}
end
-- All hosts' rules, read in this same atomic step, stand in for a host without rules of its own.
local all = redis.call('HMGET', KEYS[4], 'paused', 'wiped_before')
if all[1] or all[2] then
  ARGV[8] = all[1] or ''
  ARGV[9] = all[2] or '0'
end
fold_latest({KEYS[2], KEYS[3]}, {ARGV[11], ARGV[3], ARGV[4], ARGV[10]})
return fold_host({KEYS[1]}, ARGV)
`;

export type FoldSettings = Retention;

/** How long folds go without WAIT after one found a replica missing. */
const SKIP_WAIT_MS = 10_000;

/** folded: into latest values and history; unrecorded: into latest values only (recording paused or wiped). */
export type FoldOutcome = 'folded' | 'unrecorded' | 'duplicate' | 'too_old';

const OUTCOMES: Record<number, FoldOutcome> = {
  1: 'folded',
  2: 'unrecorded',
  0: 'duplicate',
  [-1]: 'too_old',
};

/** How many replicas must hold a fold (see RedisSettings); none by default. */
export type ReplicaAcks = Pick<RedisSettings, 'replicaAcks' | 'replicaAckTimeoutMs'>;

export class Folder {
  /** All hosts' recording rules, for a host whose own copy is not in Redis yet (a new host). */
  private fallback = foldForm(emptyRules(), null);
  /** Folds whose WAIT saw fewer replicas than asked (a replica down or slow): not lost, but not yet copied. */
  unreplicated = 0;
  /** Until when folds skip WAIT, after one found a replica missing. */
  private skipWaitUntil = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly settings: FoldSettings,
    private readonly acks: ReplicaAcks = { replicaAcks: 0, replicaAckTimeoutMs: 0 },
  ) {
    redis.defineCommand('loadstarFoldHost', { lua: FOLD_HOST });
    redis.defineCommand('loadstarFoldLatest', { lua: FOLD_LATEST });
    redis.defineCommand('loadstarFold', { lua: FOLD_BOTH });
    this.oneScript = !(redis instanceof Cluster);
  }

  /** On a single server both scripts run as one; a cluster needs one call per slot. */
  private readonly oneScript: boolean;

  /**
   * Keeps the rules for hosts without their own copy current (fed by the rules
   * watch). On a single Redis the fold reads the all-hosts copy in Redis instead,
   * in the same atomic step; on a cluster this copy is the fallback.
   */
  useRules(rules: RecordingRules): void {
    this.fallback = foldForm(rules, null);
  }

  /** Whether this sample (host + id) was folded already: then it is stored and readable. */
  isFolded(sample: Sample): Promise<boolean> {
    return this.isFoldedId(sample.host, sample.id);
  }

  async isFoldedId(host: string, id: string): Promise<boolean> {
    return (await this.redis.zscore(keys.seen(host), id)) !== null;
  }

  /**
   * Folds one sample; resolves once both scripts ran, rejects when Redis is away.
   * The cross-host script runs first: a sample the host script marked folded has
   * been folded everywhere, which lets a redelivery stop at one `ZSCORE`.
   */
  async fold(sample: Sample): Promise<FoldOutcome> {
    let packed = '';
    for (const name in sample.metrics) packed += `${name} ${sample.metrics[name]} `;
    const time = String(sample.time);
    const interval = String(sample.interval);
    const hostArgs = [
      keys.hostPrefix(sample.host),
      sample.id,
      time,
      interval,
      this.settings.horizonMs,
      this.settings.rawRetentionMs,
      this.settings.minuteRetentionMs,
      this.fallback.paused,
      this.fallback.wiped_before,
      packed,
    ];
    let outcome: number;
    if (this.oneScript) {
      const foldArgs = [
        keys.seen(sample.host),
        keys.latest,
        keys.hosts,
        keys.recordingAll,
        ...hostArgs,
        sample.host,
      ];
      outcome =
        this.acks.replicaAcks > 0
          ? ((await this.replicated(this.redis.pipeline().loadstarFold(4, ...foldArgs))) as number)
          : await this.redis.loadstarFold(4, ...foldArgs);
    } else {
      await this.replicated(
        this.redis
          .pipeline()
          .loadstarFoldLatest(2, keys.latest, keys.hosts, sample.host, time, interval, packed),
      );
      outcome = (await this.replicated(
        this.redis.pipeline().loadstarFoldHost(1, keys.seen(sample.host), ...hostArgs),
      )) as number;
    }
    return OUTCOMES[outcome] ?? 'folded';
  }

  /**
   * Runs a fold, followed on the same node by WAIT when replicas must hold it
   * (Redis cannot WAIT inside a script). WAIT has no key: in a pipeline it goes to
   * the node of the fold's keys, the one node whose replicas matter.
   */
  private async replicated(fold: ReturnType<RedisClient['pipeline']>): Promise<unknown> {
    const { replicaAcks, replicaAckTimeoutMs } = this.acks;
    // WAIT holds the node's one connection until it returns: with a replica gone
    // (lost, or not yet back after a failover) every fold would wait the full
    // timeout, one after the other, and ingest would crawl for every host. A short
    // WAIT therefore pauses waiting for a while, and the shortfall is counted.
    const waiting = replicaAcks > 0 && Date.now() >= this.skipWaitUntil;
    if (waiting) fold.wait(replicaAcks, replicaAckTimeoutMs);
    const answers = (await fold.exec()) ?? [];
    for (const [err] of answers) if (err) throw err;
    if (replicaAcks > 0 && (!waiting || Number(answers[1]?.[1]) < replicaAcks)) {
      this.unreplicated++;
      if (waiting) this.skipWaitUntil = Date.now() + SKIP_WAIT_MS;
    }
    return answers[0]?.[1];
  }
}
