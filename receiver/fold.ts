// Folds samples into Redis through the history codec's scripts: the host's keys
// in one script, the keys that span hosts in another (a different cluster slot).
// Both are idempotent, so the receiver (write-through, for read-your-writes) and
// the storage consumer (from the stream) may fold the same sample in any order,
// any number of times.
//
// Group commit: folds and look-ups asked for in the same turn of the event loop
// (the requests that arrived together, a consumer's batch) go to Redis as one
// script call per few dozen samples, not one per sample. Each caller still gets
// its own sample's outcome, and only once Redis ran its fold.
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
    loadstarFoldAll(numKeys: number, ...keysAndArgs: Argument[]): Result<number[], Context>;
    loadstarFoldLatest(numKeys: number, ...keysAndArgs: Argument[]): Result<number, Context>;
    loadstarCheckFolded(numKeys: number, ...keysAndArgs: Argument[]): Result<number[], Context>;
  }
}

export type FoldSettings = Retention;

/** How long folds go without WAIT after one found a replica missing. */
const SKIP_WAIT_MS = 10_000;
/**
 * Samples per script call. A script holds Redis while it runs (about 0.1 ms per
 * sample of 20 metrics): a few dozen keep every call within a few milliseconds.
 */
const SAMPLES_PER_CALL = 48;
/** Id look-ups per script call (each a GET and a search). */
const CHECKS_PER_CALL = 512;

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

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: Error) => void;
}

/** Collects what callers ask for during one turn of the event loop and hands it over as one batch. */
class TurnBatch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private scheduled = false;

  constructor(private readonly run: (items: T[]) => Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    this.run(batch.map((w) => w.item)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
      (err: Error) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

/** The groups a fold script takes: per host, its samples in the order given. */
function groupByHost<T extends { host: string }>(items: T[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const group = groups.get(item.host);
    if (group) group.push(i);
    else groups.set(item.host, [i]);
  });
  return groups;
}

export class Folder {
  /** All hosts' recording rules, for a host whose own copy is not in Redis yet (a new host). */
  private fallback = foldForm(emptyRules(), null);
  /** Folds whose WAIT saw fewer replicas than asked (a replica down or slow): not lost, but not yet copied. */
  unreplicated = 0;
  /** Until when folds skip WAIT, after one found a replica missing. */
  private skipWaitUntil = 0;
  /** On a single server both scripts run as one, for any number of hosts; a cluster needs one call per slot. */
  private readonly oneServer: boolean;
  private readonly folds = new TurnBatch<Sample, FoldOutcome>((samples) => this.foldBatch(samples));
  private readonly checks = new TurnBatch<{ host: string; id: string }, boolean>((asked) =>
    this.checkBatch(asked),
  );

  constructor(
    private readonly redis: RedisClient,
    private readonly settings: FoldSettings,
    private readonly acks: ReplicaAcks = { replicaAcks: 0, replicaAckTimeoutMs: 0 },
  ) {
    redis.defineCommand('loadstarFoldHost', { lua: scripts.foldHost });
    redis.defineCommand('loadstarFoldLatest', { lua: scripts.foldLatest });
    redis.defineCommand('loadstarFoldAll', { lua: scripts.foldAll });
    redis.defineCommand('loadstarCheckFolded', { lua: scripts.check });
    this.oneServer = !(redis instanceof Cluster);
  }

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

  isFoldedId(host: string, id: string): Promise<boolean> {
    return this.checks.add({ host, id });
  }

  /**
   * Folds one sample; resolves once both scripts ran, rejects when Redis is away.
   * The cross-host script runs first: a sample the host script marked folded has
   * been folded everywhere, which lets a redelivery stop at one look-up.
   */
  fold(sample: Sample): Promise<FoldOutcome> {
    return this.folds.add(sample);
  }

  private settingsArguments(): Argument[] {
    return [
      this.settings.horizonMs,
      this.settings.rawRetentionMs,
      this.settings.minuteRetentionMs,
      this.fallback.paused,
      this.fallback.wiped_before,
    ];
  }

  private async foldBatch(samples: Sample[]): Promise<FoldOutcome[]> {
    const outcomes: FoldOutcome[] = new Array(samples.length);
    const calls = this.oneServer ? this.callsForOneServer(samples) : this.callsPerHost(samples);
    await Promise.all(
      calls.map(async ({ indexes, run }) => {
        const answers = await run();
        indexes.forEach((at, i) => {
          outcomes[at] = OUTCOMES[answers[i]!] ?? 'folded';
        });
      }),
    );
    return outcomes;
  }

  /** One script for every host, a few dozen samples a call, pipelined. */
  private callsForOneServer(samples: Sample[]) {
    const settings = this.settingsArguments();
    const calls: { indexes: number[]; run: () => Promise<number[]> }[] = [];
    let args: Argument[] = [];
    let indexes: number[] = [];
    const close = () => {
      if (indexes.length === 0) return;
      const callArgs = [keys.latest, keys.hosts, keys.recordingAll, ...settings, ...args];
      calls.push({
        indexes,
        run: async () =>
          this.acks.replicaAcks > 0
            ? ((await this.replicated(
                this.redis.pipeline().loadstarFoldAll(3, ...callArgs),
              )) as number[])
            : this.redis.loadstarFoldAll(3, ...callArgs),
      });
      args = [];
      indexes = [];
    };
    for (const [host, members] of groupByHost(samples)) {
      for (let from = 0; from < members.length; from += SAMPLES_PER_CALL) {
        const chunk = members.slice(from, from + SAMPLES_PER_CALL);
        if (indexes.length + chunk.length > SAMPLES_PER_CALL) close();
        args.push(host, chunk.length);
        for (const at of chunk) args.push(...foldArguments(samples[at]!));
        indexes.push(...chunk);
      }
    }
    close();
    return calls;
  }

  /** On a Cluster: the cross-host part first (one slot), then each host's own keys (its slot). */
  private callsPerHost(samples: Sample[]) {
    const settings = this.settingsArguments();
    const calls: { indexes: number[]; run: () => Promise<number[]> }[] = [];
    for (const [host, members] of groupByHost(samples)) {
      for (let from = 0; from < members.length; from += SAMPLES_PER_CALL) {
        const chunk = members.slice(from, from + SAMPLES_PER_CALL);
        const group: Argument[] = [host, chunk.length];
        for (const at of chunk) group.push(...foldArguments(samples[at]!));
        calls.push({
          indexes: chunk,
          run: async () => {
            await this.replicated(
              this.redis
                .pipeline()
                .loadstarFoldLatest(2, keys.latest, keys.hosts, ...settings, ...group),
            );
            return (await this.replicated(
              this.redis.pipeline().loadstarFoldHost(1, hostRouteKey(host), ...settings, ...group),
            )) as number[];
          },
        });
      }
    }
    return calls;
  }

  private async checkBatch(asked: { host: string; id: string }[]): Promise<boolean[]> {
    const found: boolean[] = new Array(asked.length);
    const groups = [...groupByHost(asked)];
    const calls: { indexes: number[]; args: Argument[]; route: string }[] = [];
    for (const [host, members] of groups) {
      for (let from = 0; from < members.length; from += CHECKS_PER_CALL) {
        const chunk = members.slice(from, from + CHECKS_PER_CALL);
        const last = calls.at(-1);
        // On one server, hosts share calls; on a Cluster, each host's look-ups go to its slot.
        const call =
          this.oneServer && last && last.indexes.length + chunk.length <= CHECKS_PER_CALL
            ? last
            : calls[calls.push({ indexes: [], args: [], route: hostRouteKey(host) }) - 1]!;
        call.args.push(host, chunk.length, ...chunk.map((at) => idHash(asked[at]!.id)));
        call.indexes.push(...chunk);
      }
    }
    await Promise.all(
      calls.map(async ({ indexes, args, route }) => {
        const answers = await this.redis.loadstarCheckFolded(1, route, ...args);
        indexes.forEach((at, i) => {
          found[at] = answers[i] === 1;
        });
      }),
    );
    return found;
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
