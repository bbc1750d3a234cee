// The history layout before the codec (layout 1), kept to test the upgrade and
// to measure against in the bench: its own fold scripts (as they were) and
// readers. Nothing in the services writes this layout any more.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { renderFloat } from '../../../../proto/float.ts';
import type { Sample } from '../../../../proto/sample.ts';

const FOLD_HOST = readFileSync(new URL('./fold-host.lua', import.meta.url), 'utf8');
const FOLD_LATEST = readFileSync(new URL('./fold-latest.lua', import.meta.url), 'utf8');
const FOLD_BOTH = `local function fold_latest(KEYS, ARGV)
${FOLD_LATEST}
end
local function fold_host(KEYS, ARGV)
${FOLD_HOST}
end
fold_latest({KEYS[2], KEYS[3]}, {ARGV[11], ARGV[3], ARGV[4], ARGV[10]})
return fold_host({KEYS[1]}, ARGV)
`;

export const v1Keys = {
  seen: (host: string) => `ls:{${host}}:seen`,
  raw: (host: string, metric: string) => `ls:{${host}}:raw:${metric}`,
  minutes: (host: string, day: number) => `ls:{${host}}:1m:${day}`,
  stored: (host: string) => `ls:{${host}}:stored`,
};

export interface V1Retention {
  horizonMs: number;
  rawRetentionMs: number;
  minuteRetentionMs: number;
}

/** Folds samples the way the services did before the codec, on a single Redis. */
export class V1Folder {
  constructor(
    private readonly redis: Redis,
    private readonly retention: V1Retention,
  ) {}

  async fold(sample: Sample): Promise<number> {
    let packed = '';
    for (const name in sample.metrics) packed += `${name} ${sample.metrics[name]} `;
    const prefix = `ls:{${sample.host}}:`;
    return (await this.redis.eval(
      FOLD_BOTH,
      3,
      v1Keys.seen(sample.host),
      '{loadstar}:latest',
      '{loadstar}:hosts',
      prefix,
      sample.id,
      String(sample.time),
      String(sample.interval),
      this.retention.horizonMs,
      this.retention.rawRetentionMs,
      this.retention.minuteRetentionMs,
      '',
      '0',
      packed,
      sample.host,
    )) as number;
  }
}

/** Raw points as layout 1 kept them: a sorted set of "time:value" per metric. */
export async function v1ReadRaw(
  redis: Redis,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<[number, number][]> {
  const members = await redis.zrangebyscore(v1Keys.raw(host, metric), from, to);
  return members.map((member) => {
    const colon = member.indexOf(':');
    return [Number(member.slice(0, colon)), Number(member.slice(colon + 1))];
  });
}

/** One-minute aggregates as layout 1 kept them: "count|sum|min|max" per "metric|minute", a hash per day. */
export async function v1ReadMinutes(
  redis: Redis,
  host: string,
  metric: string,
  from: number,
  to: number,
): Promise<{ time: number; count: number; sum: number; avg: number; min: number; max: number }[]> {
  const first = from - (from % 60_000);
  const asks: { day: number; minutes: number[] }[] = [];
  for (let minute = first; minute <= to; minute += 60_000) {
    const day = Math.floor(minute / 86_400_000);
    if (asks.at(-1)?.day !== day) asks.push({ day, minutes: [] });
    asks.at(-1)!.minutes.push(minute);
  }
  const answers = await Promise.all(
    asks.map(({ day, minutes }) =>
      redis.hmget(v1Keys.minutes(host, day), ...minutes.map((m) => `${metric}|${m}`)),
    ),
  );
  const points: {
    time: number;
    count: number;
    sum: number;
    avg: number;
    min: number;
    max: number;
  }[] = [];
  asks.forEach(({ minutes }, i) => {
    answers[i]!.forEach((text, j) => {
      if (text === null) return;
      const [count, sum, min, max] = text.split('|').map(Number) as [
        number,
        number,
        number,
        number,
      ];
      points.push({ time: minutes[j]!, count, sum, avg: sum / count, min, max });
    });
  });
  return points;
}

const float = (value: number | null) => (value === null ? 'null' : renderFloat(value));

/** Layout 1's gateway's gaps: a null point wherever the next sample came later than `gapMs` after the previous one (and at either end). */
export function v1MarkGaps(
  points: [number, number][],
  intervalMs: number,
  gapMs: number,
  from: number,
  to: number,
): [number, number | null][] {
  if (points.length === 0) return [];
  const out: [number, number | null][] = [];
  if (points[0]![0] - from > gapMs) out.push([from, null]);
  points.forEach((point, i) => {
    if (i > 0 && point[0] - points[i - 1]![0] > gapMs)
      out.push([points[i - 1]![0] + intervalMs, null]);
    out.push(point);
  });
  const last = points.at(-1)![0];
  if (to - last > gapMs) out.push([last + intervalMs, null]);
  return out;
}

/** Raw points as layout 1's gateway wrote them. */
export function v1RenderRawPoints(points: [number, number | null][]): string {
  return `[${points.map(([t, v]) => `[${t},${float(v)}]`).join(',')}]`;
}

/** One-minute points as layout 1's gateway filled and wrote them. */
export function v1RenderMinutePoints(
  points: { time: number; count: number; sum: number; min: number; max: number }[],
  from: number,
  to: number,
): string {
  const byTime = new Map(points.map((p) => [p.time, p]));
  const rows: string[] = [];
  for (let minute = from - (from % 60_000); minute <= to; minute += 60_000) {
    const p = byTime.get(minute);
    rows.push(
      p
        ? `[${minute},${float(p.sum / p.count)},${p.count},${float(p.min)},${float(p.max)}]`
        : `[${minute},null,0,null,null]`,
    );
  }
  return `[${rows.join(',')}]`;
}
