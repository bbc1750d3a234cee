// Folds samples into Redis through the history codec's scripts: the host's keys
// in one script, the keys that span hosts in another (a different cluster slot).
// Both are idempotent, so the receiver (write-through, for read-your-writes) and
// the storage consumer (from the stream) may fold the same sample in any order,
// any number of times.
import { Cluster, type Result } from 'ioredis';
import { keys } from '../proto/keys.ts';
import { emptyRules, foldForm, type RecordingRules } from '../proto/recording.ts';
import type { RedisClient, RedisSettings } from '../proto/redis.ts';
import type { Retention } from '../proto/retention.ts';
import type { Sample } from '../proto/sample.ts';
import { foldArguments, hostRouteKey, idHash, scripts } from '../proto/store/codec.ts';

type Argument = string | number | Buffer;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarFoldHost(numKeys: number, ...keysAndArgs: Argument[]): Result<number[], Context>;
    loadstarFold(numKeys: number, ...keysAndArgs: Argument[]): Result<number[], Context>;
    loadstarFoldLatest(numKeys: number, ...keysAndArgs: Argument[]): Result<number, Context>;
    loadstarCheckFolded(numKeys: number, ...keysAndArgs: Argument[]): Result<number[], Context>;
  }
}

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
    redis.defineCommand('loadstarFoldHost', { lua: scripts.foldHost });
    redis.defineCommand('loadstarFoldLatest', { lua: scripts.foldLatest });
    redis.defineCommand('loadstarFold', { lua: scripts.foldBoth });
    redis.defineCommand('loadstarCheckFolded', { lua: scripts.check });
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
    const [found] = await this.redis.loadstarCheckFolded(1, hostRouteKey(host), host, idHash(id));
    return found === 1;
  }

  /**
   * Folds one sample; resolves once both scripts ran, rejects when Redis is away.
   * The cross-host script runs first: a sample the host script marked folded has
   * been folded everywhere, which lets a redelivery stop at one look-up.
   */
  async fold(sample: Sample): Promise<FoldOutcome> {
    const [hash, time, interval, packed] = foldArguments(sample);
    const hostArgs: Argument[] = [
      sample.host,
      this.settings.horizonMs,
      this.settings.rawRetentionMs,
      this.settings.minuteRetentionMs,
      this.fallback.paused,
      this.fallback.wiped_before,
      hash,
      time,
      interval,
      packed,
    ];
    const route = hostRouteKey(sample.host);
    let outcomes: number[];
    if (this.oneScript) {
      const foldArgs = [route, keys.latest, keys.hosts, keys.recordingAll, ...hostArgs];
      outcomes =
        this.acks.replicaAcks > 0
          ? ((await this.replicated(
              this.redis.pipeline().loadstarFold(4, ...foldArgs),
            )) as number[])
          : await this.redis.loadstarFold(4, ...foldArgs);
    } else {
      await this.replicated(
        this.redis
          .pipeline()
          .loadstarFoldLatest(2, keys.latest, keys.hosts, sample.host, time, interval, packed),
      );
      outcomes = (await this.replicated(
        this.redis.pipeline().loadstarFoldHost(1, route, ...hostArgs),
      )) as number[];
    }
    return OUTCOMES[outcomes[0]!] ?? 'folded';
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
