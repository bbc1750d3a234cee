// Brings a Redis that holds the history layout before the codec (layout 1) to
// layout 2, host by host, in small atomic steps (upgrade.lua), and then marks
// it done ({loadstar}:layout). Safe to run again, or by two processes at once:
// each step moves what it converts out of the old keys. Old and new versions of
// the services must not fold at the same time: an old fold writes layout 1.
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import { keys } from '../keys.ts';
import type { Log } from '../log.ts';
import type { RedisClient } from '../redis.ts';
import type { Retention } from '../retention.ts';
import { dayOf, historyKeys, hostRouteKey, LAYOUT_VERSION } from './codec.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarUpgradeChunk(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<number | [number, string], Context>;
  }
}

const STORE = readFileSync(new URL('./store.lua', import.meta.url), 'utf8');
const UPGRADE = readFileSync(new URL('./upgrade.lua', import.meta.url), 'utf8');
/** Entries converted per step: each step holds Redis for a few milliseconds at most. */
const CHUNK = 2_000;

export interface UpgradeResult {
  /** Whether the Redis was on layout 1 at all. */
  upgraded: boolean;
  hosts: number;
  /** Old keys converted and removed. */
  keys: number;
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
  const hosts = await redis.zrange(keys.hosts, '0', '-1');
  const result: UpgradeResult = { upgraded: false, hosts: 0, keys: 0 };
  const step = (host: string, kind: string, what: string | number, cursor = '0') =>
    redis.loadstarUpgradeChunk(
      1,
      hostRouteKey(host),
      host,
      kind,
      what,
      CHUNK,
      retention.horizonMs,
      retention.rawRetentionMs,
      retention.minuteRetentionMs,
      cursor,
    );
  for (const host of hosts) {
    const prefix = `ls:{${host}}:`;
    const metrics = await redis.smembers(keys.metrics(host));
    const today = dayOf(Date.now());
    const old: [kind: string, key: string, what: string | number][] = [
      ...metrics.map((m): [string, string, string] => ['raw', `${prefix}raw:${m}`, m]),
      ['seen', `${prefix}seen`, ''],
      ['stored', `${prefix}stored`, ''],
    ];
    for (let day = dayOf(Date.now() - retention.minuteRetentionMs) - 1; day <= today + 1; day++)
      old.push(['minutes', `${prefix}1m:${day}`, day]);
    const present = await Promise.all(old.map(([, key]) => redis.exists(key)));
    const todo = old.filter((_, i) => present[i] === 1);
    if (todo.length === 0) continue;
    result.hosts++;
    for (const [kind, , what] of todo) {
      let cursor = '0';
      for (;;) {
        const answer = await step(host, kind, what, cursor);
        const left = Array.isArray(answer) ? answer[0] : answer;
        if (Array.isArray(answer)) cursor = answer[1];
        if (left === 0) break;
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
