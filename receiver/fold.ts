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
import type { RedisClient, RedisSettings } from '../deploy/runtime/redis.ts';
import { keys } from '../proto/keys.ts';
import { emptyRules, foldForm, isRecordedIn, type RecordingRules } from '../proto/recording.ts';
import type { Retention } from '../proto/retention.ts';
import type { Sample } from '../proto/sample.ts';
import {
  historyKeys,
  hostRouteKey,
  idHash,
  type SampleValues,
  sampleValues,
  scripts,
} from '../proto/store/codec.ts';
import { HostEncoder, packBlockWrites, packStates } from '../proto/store/encode.ts';

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
 * Samples per script call. Redis applies encoded samples in a few microseconds
 * each, so a call of a few hundred keeps within a few milliseconds.
 */
const SAMPLES_PER_CALL = 256;
/** Id look-ups per script call (each a GET and a search). */
const CHECKS_PER_CALL = 512;
/** Rounds a sample may be encoded again because its host's state changed meanwhile. */
const MAX_ATTEMPTS = 8;

/** folded: into latest values and history; unrecorded: into latest values only (recording paused or wiped). */
export type FoldOutcome = 'folded' | 'unrecorded' | 'duplicate' | 'too_old';

const OUTCOMES: Record<number, FoldOutcome> = {
  1: 'folded',
  2: 'unrecorded',
  0: 'duplicate',
  [-1]: 'too_old',
};
/** The fold script's answer for a sample that must be encoded again (its host changed meanwhile). */
const AGAIN = 9;

/** How many replicas must hold a fold (see RedisSettings); none by default. */
export type ReplicaAcks = Pick<RedisSettings, 'replicaAcks' | 'replicaAckTimeoutMs'>;

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: Error) => void;
}

/**
 * Group commit: what callers ask for in one turn of the event loop goes as one
 * batch. Items of one key (a host) never go in two batches at once: an item
 * whose key is being worked on waits for the next batch, so two batches never
 * race for the same host's state, while other hosts' batches run side by side.
 */
class GroupCommit<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private scheduled = false;
  private readonly busy = new Set<string>();

  constructor(
    /** The key whose items must not be in two batches at once; null: any item may. */
    private readonly keyOf: (item: T) => string | null,
    private readonly run: (items: T[]) => Promise<R[]>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch: Waiting<T, R>[] = [];
    const later: Waiting<T, R>[] = [];
    const keys = new Set<string>();
    for (const w of this.waiting) {
      const key = this.keyOf(w.item);
      if (key !== null && this.busy.has(key)) later.push(w);
      else {
        batch.push(w);
        if (key !== null) keys.add(key);
      }
    }
    this.waiting = later;
    if (batch.length === 0) return;
    for (const key of keys) this.busy.add(key);
    this.run(batch.map((w) => w.item))
      .then(
        (results) => {
          for (const [i, w] of batch.entries()) w.resolve(results[i]!);
        },
        (err: Error) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        for (const key of keys) this.busy.delete(key);
        this.schedule();
      });
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

/** What a fold starts from for one host: its state version, recording rules and metrics' states. */
interface HostStart {
  version: string;
  rules: { paused: string; wiped_before: string };
  states: Map<string, Buffer | null>;
}

/** Hosts remembered at most, the least recently folded forgotten first: bounds the memory. */
const REMEMBERED_HOSTS = 20_000;
/**
 * How long a host that another process folded under this one is read before
 * each fold instead of remembered: two copies taking turns on the same hosts
 * (store copies draining one backlog) would otherwise have every other fold
 * refused and encoded again.
 */
const SHARED_HOST_MS = 60_000;

/**
 * The hosts this process folded last, as its own folds left them, so that the
 * next fold of a host skips reading it back. Only a hint: if another process
 * changed a host since, its fold script refuses (the version moved) and the
 * host is read again.
 */
class HostMemory {
  private readonly hosts = new Map<string, HostStart>();
  /** Hosts another process folds too, until when they are not remembered. */
  private readonly shared = new Map<string, number>();

  recall(host: string, metrics: string[]): HostStart | null {
    const known = this.hosts.get(host);
    if (!known || metrics.some((m) => !known.states.has(m))) return null;
    // Least recently used first: a Map keeps insertion order.
    this.hosts.delete(host);
    this.hosts.set(host, known);
    return known;
  }

  keep(host: string, start: HostStart, written: Map<string, Buffer>, now = Date.now()): void {
    const until = this.shared.get(host);
    if (until !== undefined) {
      if (until > now) return;
      this.shared.delete(host);
    }
    const states = new Map(start.states);
    for (const [metric, state] of written) states.set(metric, state);
    this.hosts.delete(host);
    this.hosts.set(host, {
      version: String(Number(start.version) + 1),
      rules: start.rules,
      states,
    });
    for (const oldest of this.hosts.keys()) {
      if (this.hosts.size <= REMEMBERED_HOSTS) break;
      this.hosts.delete(oldest);
    }
  }

  forget(host: string): void {
    this.hosts.delete(host);
  }

  /** Another process changed the host under this one's fold: read it before each fold for a while. */
  share(host: string, now = Date.now()): void {
    this.hosts.delete(host);
    // Last in the map's order, so the oldest entries come first.
    this.shared.delete(host);
    this.shared.set(host, now + SHARED_HOST_MS);
    for (const [oldest, until] of this.shared) {
      if (this.shared.size <= REMEMBERED_HOSTS && until > now) break;
      this.shared.delete(oldest);
    }
  }
}

/** A host's part of one round: its samples (indexes into the batch) and what was read for them. */
interface HostRound extends HostStart {
  host: string;
  indexes: number[];
}

export class Folder {
  /** All hosts' recording rules, for a host whose own copy is not in Redis yet (a new host). */
  private fallback = foldForm(emptyRules(), null);
  /** Folds whose WAIT saw fewer replicas than asked (a replica down or slow): not lost, but not yet copied. */
  unreplicated = 0;
  /** Samples encoded again because their host's state changed between read and write. */
  reencoded = 0;
  /** Until when folds skip WAIT, after one found a replica missing. */
  private skipWaitUntil = 0;
  private readonly memory = new HostMemory();
  /** On a single server both scripts run as one, for any number of hosts; a cluster needs one call per slot. */
  private readonly oneServer: boolean;
  private readonly folds = new GroupCommit<Sample, FoldOutcome>(
    (sample) => sample.host,
    (samples) => this.foldBatch(samples),
  );
  /** Look-ups change nothing: any number of their batches may run at once. */
  private readonly checks = new GroupCommit<{ host: string; id: string }, boolean>(
    () => null,
    (asked) => this.checkBatch(asked),
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
   * watch). On a single Redis the fold reads the all-hosts copy in Redis instead;
   * on a cluster this copy is the fallback.
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
   * Folds one sample; resolves once Redis holds it, rejects when Redis is away.
   * The cross-host part runs first: a sample the host's part marked folded has
   * been folded everywhere, which lets a redelivery stop at one look-up.
   */
  fold(sample: Sample): Promise<FoldOutcome> {
    return this.folds.add(sample);
  }

  /**
   * Read, encode, apply, in rounds: each round reads the states of the hosts it
   * folds, encodes their samples here (encode.ts) and has Redis apply them if
   * nothing changed meanwhile; what changed is encoded again next round.
   */
  private async foldBatch(samples: Sample[]): Promise<FoldOutcome[]> {
    const outcomes: (FoldOutcome | undefined)[] = new Array(samples.length);
    const attempts = new Array<number>(samples.length).fill(0);
    const values = samples.map((s) => sampleValues(s.metrics));
    const tooOld = Date.now() - this.settings.horizonMs - 5_000;
    let remaining: number[] = [];
    samples.forEach((s, i) => {
      if (s.time < tooOld) outcomes[i] = 'too_old';
      else remaining.push(i);
    });
    while (remaining.length > 0) {
      // A host's samples in order, a call's worth of them per round.
      const rounds: { host: string; indexes: number[] }[] = [];
      const later: number[] = [];
      for (const [host, members] of groupByHost(remaining.map((i) => samples[i]!))) {
        const indexes = members.map((m) => remaining[m]!);
        rounds.push({ host, indexes: indexes.slice(0, SAMPLES_PER_CALL) });
        later.push(...indexes.slice(SAMPLES_PER_CALL));
      }
      const hosts = await this.readHosts(rounds, samples);
      const { answers, written } = await this.applyRounds(hosts, samples, values);
      const again: number[] = [];
      hosts.forEach((round, r) => {
        // The script applies a host's group whole or not at all: only all folded means applied.
        if (answers[r]!.every((code) => code === 1 || code === 2))
          this.memory.keep(round.host, round, written[r]!);
        else if (answers[r]!.includes(AGAIN)) this.memory.share(round.host);
        else this.memory.forget(round.host);
        round.indexes.forEach((at, k) => {
          const code = answers[r]![k]!;
          if (code !== AGAIN) outcomes[at] = OUTCOMES[code] ?? 'folded';
          else if (++attempts[at]! >= MAX_ATTEMPTS) {
            throw new Error(
              `host ${round.host} changed under its fold ${MAX_ATTEMPTS} times in a row`,
            );
          } else again.push(at);
        });
      });
      this.reencoded += again.length;
      remaining = [...again, ...later].sort((a, b) => a - b);
    }
    return outcomes as FoldOutcome[];
  }

  /** Each host's state version, its metrics' states and its recording rules, in one round trip. */
  private async readHosts(
    rounds: { host: string; indexes: number[] }[],
    samples: Sample[],
  ): Promise<HostRound[]> {
    const needs = rounds.map(({ host, indexes }) => ({
      host,
      indexes,
      metrics: [...new Set(indexes.flatMap((i) => Object.keys(samples[i]!.metrics)))],
    }));
    // A host this process folded last, with every metric it needs, is not read again:
    // if another process changed it since, the fold script says so and it is read then.
    const remembered = needs.map(({ host, metrics }) => this.memory.recall(host, metrics));
    const unknown = needs.filter((_, i) => remembered[i] === null);
    const [[allPaused, allWiped], read] = await Promise.all([
      this.oneServer && unknown.length > 0
        ? this.redis.hmget(keys.recordingAll, 'paused', 'wiped_before')
        : Promise.resolve([null, null]),
      Promise.all(
        unknown.map(async ({ host, metrics }) => {
          const [states, rules] = await Promise.all([
            this.redis.hmgetBuffer(historyKeys.state(host), '~v', ...metrics),
            this.redis.hmget(keys.recording(host), 'paused', 'wiped_before'),
          ]);
          return { metrics, states, rules };
        }),
      ),
    ]);
    const fallback =
      this.oneServer && (allPaused !== null || allWiped !== null)
        ? { paused: allPaused ?? '', wiped_before: allWiped ?? '0' }
        : this.oneServer
          ? { paused: '', wiped_before: '0' }
          : this.fallback;
    let next = 0;
    return needs.map(({ host, indexes }, i) => {
      const known = remembered[i];
      if (known) return { host, indexes, ...known };
      const { metrics, states, rules } = read[next++]!;
      return {
        host,
        indexes,
        version: states[0]?.toString() ?? '0',
        rules:
          rules[0] !== null || rules[1] !== null
            ? { paused: rules[0] ?? '', wiped_before: rules[1] ?? '0' }
            : fallback,
        states: new Map(metrics.map((m, k) => [m, states[k + 1] ?? null])),
      };
    });
  }

  /** Encodes each host's samples and has Redis apply them; answers an outcome code per sample. */
  private async applyRounds(
    hosts: HostRound[],
    samples: Sample[],
    values: SampleValues[],
  ): Promise<{ answers: number[][]; written: Map<string, Buffer>[] }> {
    const now = Date.now();
    const encoded = hosts.map((round) => this.encodeGroup(round, samples, values, now));
    const groups = encoded.map((e) => e.args);
    const written = encoded.map((e) => e.states);
    if (this.oneServer) {
      // Hosts share calls, a few hundred samples each.
      const calls: { hosts: number[]; args: Argument[] }[] = [];
      groups.forEach((args, h) => {
        const last = calls.at(-1);
        const size = hosts[h]!.indexes.length;
        if (
          last &&
          last.hosts.reduce((n, i) => n + hosts[i]!.indexes.length, 0) + size <= SAMPLES_PER_CALL
        ) {
          last.hosts.push(h);
          last.args.push(...args);
        } else calls.push({ hosts: [h], args: [...this.settingsArguments(), ...args] });
      });
      const answers: number[][] = new Array(hosts.length);
      await Promise.all(
        calls.map(async ({ hosts: members, args }) => {
          const callArgs = [keys.latest, keys.hosts, keys.recordingAll, ...args];
          const codes =
            this.acks.replicaAcks > 0
              ? ((await this.replicated(
                  this.redis.pipeline().loadstarFoldAll(3, ...callArgs),
                )) as number[])
              : await this.redis.loadstarFoldAll(3, ...callArgs);
          let at = 0;
          for (const h of members) {
            answers[h] = codes.slice(at, at + hosts[h]!.indexes.length);
            at += hosts[h]!.indexes.length;
          }
        }),
      );
      return { answers, written };
    }
    // A Cluster: the cross-host part first (its slot), then each host's own keys (its slot).
    const answers = await Promise.all(
      groups.map(async (args, h) => {
        const round = hosts[h]!;
        await this.replicated(
          this.redis
            .pipeline()
            .loadstarFoldLatest(
              2,
              keys.latest,
              keys.hosts,
              ...this.settingsArguments(),
              ...this.latestOnly(round, samples, values),
            ),
        );
        return (await this.replicated(
          this.redis
            .pipeline()
            .loadstarFoldHost(1, hostRouteKey(round.host), ...this.settingsArguments(), ...args),
        )) as number[];
      }),
    );
    return { answers, written };
  }

  private settingsArguments(): Argument[] {
    return [this.settings.horizonMs, this.settings.rawRetentionMs];
  }

  /** One host's group of arguments for fold.lua: its samples, and their history encoded. */
  private encodeGroup(
    round: HostRound,
    samples: Sample[],
    values: SampleValues[],
    now: number,
  ): { args: Argument[]; states: Map<string, Buffer> } {
    const encoder = new HostEncoder(round.host, round.states, this.settings, now);
    const args: Argument[] = [
      round.host,
      round.version,
      round.rules.paused,
      round.rules.wiped_before,
      round.indexes.length,
    ];
    for (const at of round.indexes) {
      const sample = samples[at]!;
      const recorded = isRecordedIn(round.rules, sample.time);
      if (recorded) encoder.add(sample.time, values[at]!);
      args.push(
        idHash(sample.id),
        String(sample.time),
        String(sample.interval),
        values[at]!.packed,
        recorded ? '1' : '0',
      );
    }
    const writes = encoder.finish();
    const prefix = historyKeys.prefix(round.host);
    args.push(packBlockWrites(writes.blocks, prefix));
    args.push(writes.trims.length, ...writes.trims.map((key) => key.slice(prefix.length)));
    args.push(packStates(writes.states));
    args.push(writes.kept.size);
    for (const [hour, count] of writes.kept) args.push(hour, count);
    return { args, states: writes.states };
  }

  /** The cross-host script's share of a group: the samples, without the history. */
  private latestOnly(round: HostRound, samples: Sample[], values: SampleValues[]): Argument[] {
    const args: Argument[] = [round.host, '', '', '', round.indexes.length];
    for (const at of round.indexes) {
      const sample = samples[at]!;
      args.push('', String(sample.time), String(sample.interval), values[at]!.packed, '');
    }
    // No block writes, trims, states or kept counts: the cross-host part reads none.
    args.push('', 0, '', 0);
    return args;
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
