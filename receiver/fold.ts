// Folds a sample into Redis: the host's keys in one script, the keys that span
// hosts in another (a different cluster slot). Both are idempotent, so the
// receiver (write-through, for read-your-writes) and the storage consumer (from
// the stream) may fold the same sample in any order, any number of times.
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { Settings } from '../proto/config.ts';
import { keys } from '../proto/keys.ts';
import type { RedisClient } from '../proto/redis.ts';
import type { Sample } from '../proto/sample.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarFoldHost(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number, Context>;
    loadstarFoldLatest(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<number, Context>;
  }
}

const FOLD_HOST = readFileSync(new URL('./fold-host.lua', import.meta.url), 'utf8');
const FOLD_LATEST = readFileSync(new URL('./fold-latest.lua', import.meta.url), 'utf8');

export interface FoldSettings {
  /** Samples older than this are refused, and sample ids are remembered this long (SAMPLE_MAX_AGE). */
  horizonMs: number;
  /** How long raw history is kept (HISTORY_RAW_RETENTION). */
  rawRetentionMs: number;
}

export function readFoldSettings(settings: Settings): FoldSettings {
  return {
    horizonMs: settings.duration('SAMPLE_MAX_AGE', '24h', { min: 60_000 }),
    rawRetentionMs: settings.duration('HISTORY_RAW_RETENTION', '24h', { min: 60_000 }),
  };
}

export type FoldOutcome = 'folded' | 'duplicate' | 'too_old';

const OUTCOMES: Record<number, FoldOutcome> = { 1: 'folded', 0: 'duplicate', [-1]: 'too_old' };

export class Folder {
  constructor(
    private readonly redis: RedisClient,
    private readonly settings: FoldSettings,
  ) {
    redis.defineCommand('loadstarFoldHost', { lua: FOLD_HOST });
    redis.defineCommand('loadstarFoldLatest', { lua: FOLD_LATEST });
  }

  /** Whether this sample (host + id) was folded already: then it is stored and readable. */
  async isFolded(sample: Sample): Promise<boolean> {
    return (await this.redis.zscore(keys.seen(sample.host), sample.id)) !== null;
  }

  /** Folds one sample; resolves once both scripts ran, rejects when Redis is away. */
  async fold(sample: Sample): Promise<FoldOutcome> {
    const names = Object.keys(sample.metrics);
    const values = names.map((name) => String(sample.metrics[name]));
    const time = String(sample.time);
    const interval = String(sample.interval);
    const hostKeys = [
      keys.seen(sample.host),
      keys.hostLatest(sample.host),
      keys.hostMeta(sample.host),
      ...names.map((name) => keys.raw(sample.host, name)),
    ];
    // Both scripts go out together (auto-pipelined); the second runs even for a
    // duplicate, because a crash may have come between the two the first time.
    const [outcome] = await Promise.all([
      this.redis.loadstarFoldHost(
        hostKeys.length,
        ...hostKeys,
        sample.id,
        time,
        interval,
        this.settings.horizonMs,
        this.settings.rawRetentionMs,
        ...names,
        ...values,
      ),
      this.redis.loadstarFoldLatest(
        2,
        keys.latest,
        keys.hosts,
        sample.host,
        time,
        interval,
        ...names,
        ...values,
      ),
    ]);
    return OUTCOMES[outcome] ?? 'folded';
  }
}
