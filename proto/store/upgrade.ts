// Brings a Redis that holds the history layout before the codec (layout 1) to
// layout 2, host by host, in small atomic steps (upgrade.lua), and then marks
// it done ({loadstar}:layout). Safe to run again, or by two processes at once:
// each step moves what it converts out of the old keys. Old and new versions of
// the services must not fold at the same time: an old fold writes layout 1.
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { Log } from '../../deploy/runtime/log.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { keys } from '../keys.ts';
import type { Retention } from '../retention.ts';
import {
  DAY_MS,
  dayOf,
  decimalOf,
  historyKeys,
  hostRouteKey,
  idHash,
  LAYOUT_VERSION,
  RAW_BLOCK_MS,
} from './codec.ts';
import { standaloneMinute, standalonePoint } from './encode.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarUpgradeChunk(
      numKeys: number,
      ...keysAndArgs: (string | number | Buffer)[]
    ): Result<number, Context>;
  }
}

const STORE = readFileSync(new URL('./store.lua', import.meta.url), 'utf8');
const UPGRADE = readFileSync(new URL('./upgrade.lua', import.meta.url), 'utf8');
/** Entries converted per step: each step holds Redis for a few milliseconds at most. */
const CHUNK = 2_000;
/** Dedup entries are kept this long past SAMPLE_MAX_AGE (store.lua DEDUP_MARGIN_MS). */
const DEDUP_MARGIN_MS = 600_000;

export interface UpgradeResult {
  /** Whether the Redis was on layout 1 at all. */
  upgraded: boolean;
  hosts: number;
  /** Old keys converted and removed. */
  keys: number;
}

/** One chunk of an old key, encoded: what the convert step removes and what it writes instead. */
interface Chunk {
  entries: string[];
  blocks: Map<string, { parts: Buffer[]; expireAt: number }>;
  dedup: Buffer[];
  kept: Map<number, number>;
}

const emptyChunk = (entries: string[]): Chunk => ({
  entries,
  blocks: new Map(),
  dedup: [],
  kept: new Map(),
});

function addBlock(chunk: Chunk, suffix: string, bytes: Buffer, expireAt: number): void {
  const block = chunk.blocks.get(suffix);
  if (block) block.parts.push(bytes);
  else chunk.blocks.set(suffix, { parts: [bytes], expireAt });
}

/** A layout-1 sum (a double summed in arrival order) as the exact decimal it stands for, when min and max are decimals. */
function minuteDecimal(count: number, sum: number, min: number, max: number) {
  const low = decimalOf(min);
  const high = decimalOf(max);
  if (!low || !high) return null;
  const scale = Math.max(low.scale, high.scale);
  const k = 10 ** scale;
  const exactSum = Math.round(sum * k);
  const lowM = low.mantissa * 10 ** (scale - low.scale);
  const highM = high.mantissa * 10 ** (scale - high.scale);
  const limit = 2 ** 50;
  if (Math.abs(sum * k - exactSum) >= 1e-6 * Math.max(1, Math.abs(exactSum))) return null;
  if (Math.abs(exactSum) >= limit || Math.max(Math.abs(lowM), Math.abs(highM)) * count >= limit)
    return null;
  return { scale, sum: exactSum, min: lowM, max: highM };
}

/** Converts whatever layout-1 history the Redis holds; resolves when it is all layout 2. */
export async function upgradeLayout(
  redis: RedisClient,
  retention: Retention,
  log: Log,
): Promise<UpgradeResult> {
  if ((await redis.get(historyKeys.layout)) === LAYOUT_VERSION) {
    return { upgraded: false, hosts: 0, keys: 0 };
  }
  redis.defineCommand('loadstarUpgradeChunk', { lua: `${STORE}\n${UPGRADE}` });
  const keepMs = retention.horizonMs + DEDUP_MARGIN_MS;
  /** Removes the chunk's entries from the old key and writes what they became; -1 when another process took one first. */
  const convert = (host: string, suffix: string, kind: 'zset' | 'hash', chunk: Chunk) => {
    const args: (string | number | Buffer)[] = [
      host,
      keepMs,
      suffix,
      kind,
      chunk.entries.length,
      ...chunk.entries,
    ];
    args.push(chunk.blocks.size);
    for (const [block, { parts, expireAt }] of chunk.blocks)
      args.push(block, Buffer.concat(parts), expireAt);
    args.push(chunk.dedup.length, ...chunk.dedup);
    args.push(chunk.kept.size);
    for (const [hour, count] of chunk.kept)
      args.push(hour, count, (hour + 1) * RAW_BLOCK_MS + retention.rawRetentionMs);
    return redis.loadstarUpgradeChunk(1, hostRouteKey(host), ...args);
  };

  /** Chunks of a sorted set, oldest rank first, until it is gone. */
  const convertZset = async (
    host: string,
    suffix: string,
    encode: (members: string[]) => Chunk,
  ) => {
    const key = historyKeys.prefix(host) + suffix;
    for (;;) {
      const members = await redis.zrange(key, '0', String(CHUNK - 1), 'WITHSCORES');
      if (members.length === 0) return;
      if ((await convert(host, suffix, 'zset', encode(members))) === 0) return;
    }
  };

  const hosts = await redis.zrange(keys.hosts, '0', '-1');
  const result: UpgradeResult = { upgraded: false, hosts: 0, keys: 0 };
  for (const host of hosts) {
    const prefix = historyKeys.prefix(host);
    const metrics = await redis.smembers(keys.metrics(host));
    const today = dayOf(Date.now());
    const days: number[] = [];
    for (let day = dayOf(Date.now() - retention.minuteRetentionMs) - 1; day <= today + 1; day++)
      days.push(day);
    const old = [
      ...metrics.map((m) => `raw:${m}`),
      'seen',
      'stored',
      ...days.map((d) => `1m:${d}`),
    ];
    const present = await Promise.all(old.map((suffix) => redis.exists(prefix + suffix)));
    const todo = old.filter((_, i) => present[i] === 1);
    if (todo.length === 0) continue;
    result.hosts++;
    const now = Date.now();
    for (const suffix of todo) {
      if (suffix.startsWith('raw:')) {
        const metric = suffix.slice(4);
        await convertZset(host, suffix, (members) => {
          const chunk = emptyChunk([]);
          for (let i = 0; i < members.length; i += 2) {
            const member = members[i]!;
            chunk.entries.push(member);
            const colon = member.indexOf(':');
            const time = Number(member.slice(0, colon));
            if (time < now - retention.rawRetentionMs) continue;
            const { hour, bytes } = standalonePoint(time, Number(member.slice(colon + 1)));
            addBlock(
              chunk,
              `r:${hour}:${metric}`,
              bytes,
              (hour + 1) * RAW_BLOCK_MS + retention.rawRetentionMs,
            );
          }
          return chunk;
        });
      } else if (suffix === 'seen') {
        await convertZset(host, suffix, (members) => {
          const chunk = emptyChunk([]);
          for (let i = 0; i < members.length; i += 2) {
            chunk.entries.push(members[i]!);
            const time = Number(members[i + 1]);
            // Stamped with the sample's own time: kept as long as a retry of it can come.
            if (time < now - keepMs) continue;
            const stamp = Buffer.alloc(4);
            stamp.writeUInt32BE(Math.floor(time / 1000));
            chunk.dedup.push(Buffer.concat([idHash(members[i]!), stamp]));
          }
          return chunk;
        });
      } else if (suffix === 'stored') {
        await convertZset(host, suffix, (members) => {
          const chunk = emptyChunk([]);
          for (let i = 0; i < members.length; i += 2) {
            chunk.entries.push(members[i]!);
            const hour = Math.floor(Number(members[i + 1]) / RAW_BLOCK_MS);
            if ((hour + 1) * RAW_BLOCK_MS + retention.rawRetentionMs <= now) continue;
            chunk.kept.set(hour, (chunk.kept.get(hour) ?? 0) + 1);
          }
          return chunk;
        });
      } else {
        // A day of one-minute aggregates: a hash, walked with HSCAN.
        let cursor = '0';
        for (;;) {
          const [next, fields] = await redis.hscan(prefix + suffix, cursor, 'COUNT', CHUNK);
          const chunk = emptyChunk([]);
          for (let i = 0; i < fields.length; i += 2) {
            chunk.entries.push(fields[i]!);
            const bar = fields[i]!.lastIndexOf('|');
            const metric = fields[i]!.slice(0, bar);
            const minute = Number(fields[i]!.slice(bar + 1));
            const [count, sum, min, max] = fields[i + 1]!.split('|').map(Number) as [
              number,
              number,
              number,
              number,
            ];
            const { day: d, bytes } = standaloneMinute(
              minute,
              count,
              sum,
              min,
              max,
              minuteDecimal(count, sum, min, max),
            );
            addBlock(
              chunk,
              `m:${d}:${metric}`,
              bytes,
              (d + 1) * DAY_MS + retention.minuteRetentionMs,
            );
          }
          // Another process took part of this chunk: read the same stretch again.
          if ((await convert(host, suffix, 'hash', chunk)) === -1) continue;
          if (next === '0') break;
          cursor = next;
        }
        // Fields added while it was walked (an old process still folding) wait for the next start.
      }
      result.keys++;
    }
    await redis.hdel(keys.hostMeta(host), 'trimmed_at');
    if (result.hosts % 100 === 0)
      log.info('upgrading history to layout 2', { hosts: result.hosts });
  }
  await redis.set(historyKeys.layout, LAYOUT_VERSION);
  result.upgraded = result.hosts > 0;
  if (result.upgraded) {
    log.info('history upgraded to layout 2', { hosts: result.hosts, keys: result.keys });
  }
  return result;
}
