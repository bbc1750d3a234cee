// Storage figures: Redis bytes per stored value, Redis per host at the default
// retention, Redis time per fold and history query times, for the history codec
// (layout 2) side by side with the layout before it (layout 1). Both fold the
// same samples, each into a redis-server of its own, in the same run.
import { Redis } from 'ioredis';
import { writeMinutes, writeRawPoints } from '../../gateway/history.ts';
import { JsonText } from '../../gateway/json-text.ts';
import type { Sample } from '../../proto/sample.ts';
import { readMinuteSeries, readRawSeries } from '../../proto/store/codec.ts';
import { Folder } from '../../receiver/fold.ts';
import {
  V1Folder,
  v1MarkGaps,
  v1ReadMinutes,
  v1ReadRaw,
  v1RenderMinutePoints,
  v1RenderRawPoints,
} from '../proto/store/v1/layout.ts';
import { summarize } from './percentile.ts';
import { cpuSeconds } from './proc-stat.ts';
import type { Processes } from './processes.ts';
import { count, ms, ratio, renderTable } from './table.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const INTERVAL_MS = 5_000;
/** One host-day at INTERVAL=5. */
const DAY_SAMPLES = DAY / INTERVAL_MS;
/** Folds sent together on one connection (they run in order: one host's chain stays in order). */
const IN_FLIGHT = 256;
const RETENTION_DAYS = 30;

export interface StoragePlan {
  /** Timed reads per kind of history query and layout. */
  queries: number;
}

interface Layout {
  name: string;
  fold(sample: Sample): Promise<unknown>;
  /** The points of a history answer, read and written as the gateway of that layout did. */
  rawAnswer(host: string, metric: string, from: number, to: number): Promise<unknown>;
  minuteAnswer(host: string, metric: string, from: number, to: number): Promise<unknown>;
  /** What kind of data a key holds, from its suffix after `ls:{host}:`. */
  kind(suffix: string): Kind;
}

type Kind = 'raw points' | 'minute aggregates' | 'dedup record' | 'latest, meta, state';

interface Weighed {
  /** used_memory grown by the folds, per stored metric value. */
  perValue: number;
  /** MEMORY USAGE by kind, per stored metric value. */
  byKind: Map<Kind, number>;
  /** redis-server CPU per folded sample (user + system, from /proc), µs. */
  foldUs: number;
}

interface LayoutFigures {
  agent: Weighed;
  doubles: Weighed;
  /** Bytes per host at 24 h raw and 30 days of minute aggregates. */
  perHost: number;
  queries: Map<string, number>;
}

/** A small seeded generator, so both layouts fold exactly the same values. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The 20 metrics an agent reports, each a random walk of its own kind. */
const WALKS: { name: string; kind: 'percent' | 'load' | 'bytes'; step: number }[] = [
  { name: 'cpu', kind: 'percent', step: 3 },
  ...[0, 1, 2, 3].map((c) => ({ name: `cpu.core.${c}`, kind: 'percent' as const, step: 5 })),
  { name: 'cpu.iowait', kind: 'percent', step: 0.5 },
  { name: 'mem', kind: 'percent', step: 0.3 },
  { name: 'swap', kind: 'percent', step: 0.05 },
  { name: 'disk', kind: 'percent', step: 0.01 },
  { name: 'disk.used.root', kind: 'percent', step: 0.01 },
  { name: 'disk.used.var', kind: 'percent', step: 0.02 },
  { name: 'gpu', kind: 'percent', step: 4 },
  { name: 'load.1', kind: 'load', step: 0.2 },
  { name: 'load.5', kind: 'load', step: 0.05 },
  { name: 'load.15', kind: 'load', step: 0.02 },
  { name: 'disk.read_bytes_per_s', kind: 'bytes', step: 0.3 },
  { name: 'disk.write_bytes_per_s', kind: 'bytes', step: 0.3 },
  { name: 'net.rx_bytes_per_s', kind: 'bytes', step: 0.2 },
  { name: 'net.tx_bytes_per_s', kind: 'bytes', step: 0.2 },
  { name: 'net.eth0.rx_bytes_per_s', kind: 'bytes', step: 0.2 },
];

/**
 * One host-day of samples every 5 s ending now. `precise`: the walks' full
 * doubles; else what an agent sends (two decimals for percentages and load,
 * whole numbers for byte rates).
 */
function hostDay(host: string, seed: number, precise: boolean, now: number): Sample[] {
  const next = random(seed);
  const values = WALKS.map((w) => (w.kind === 'bytes' ? 50_000 + next() * 1e6 : next() * 60));
  const start = now - DAY + INTERVAL_MS;
  return Array.from({ length: DAY_SAMPLES }, (_, i) => {
    const metrics: Record<string, number> = {};
    WALKS.forEach((walk, m) => {
      const step = (next() - 0.5) * 2 * walk.step;
      let v = values[m]!;
      if (walk.kind === 'bytes') v = Math.min(1e9, Math.max(1_000, v * Math.exp(step)));
      else if (walk.kind === 'load') v = Math.max(0, v + step);
      else v = Math.min(100, Math.max(0, v + step));
      values[m] = v;
      metrics[walk.name] = precise
        ? v
        : walk.kind === 'bytes'
          ? Math.round(v)
          : Math.round(v * 100) / 100;
    });
    return { host, id: `d${seed}-${i}`, time: start + i * INTERVAL_MS, interval: 5, metrics };
  });
}

async function foldAll(layout: Layout, samples: Sample[]): Promise<void> {
  for (let i = 0; i < samples.length; i += IN_FLIGHT) {
    await Promise.all(samples.slice(i, i + IN_FLIGHT).map((s) => layout.fold(s)));
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]);
}

/** Folds one host-day and weighs what it left in Redis, and the CPU redis-server spent on it. */
async function weigh(
  redis: Redis,
  pid: number,
  layout: Layout,
  samples: Sample[],
): Promise<Weighed> {
  const host = samples[0]!.host;
  const before = await usedMemory(redis);
  const cpuBefore = cpuSeconds(pid);
  await foldAll(layout, samples);
  const cpu = cpuSeconds(pid) - cpuBefore;
  const values = samples.reduce((n, s) => n + Object.keys(s.metrics).length, 0);
  const byKind = new Map<Kind, number>();
  const prefix = `ls:{${host}}:`;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    for (const key of found) {
      const kind = layout.kind(key.slice(prefix.length));
      const size = Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
      byKind.set(kind, (byKind.get(kind) ?? 0) + size / values);
    }
  } while (cursor !== '0');
  return {
    perValue: ((await usedMemory(redis)) - before) / values,
    byKind,
    foldUs: (cpu * 1e6) / samples.length,
  };
}

/** A host with 30 days at one a minute and the last day at one every 5 s, as the query bench seeds it. */
function historyHost(now: number): Sample[] {
  const samples: Sample[] = [];
  const next = random(99);
  let cpu = 40;
  const add = (time: number, interval: number) => {
    cpu = Math.min(100, Math.max(0, cpu + (next() - 0.5) * 6));
    samples.push({
      host: 'bench-history',
      id: `h${samples.length}`,
      time,
      interval,
      metrics: { cpu: Math.round(cpu * 100) / 100 },
    });
  };
  for (let t = now - RETENTION_DAYS * DAY; t < now - DAY; t += 60_000) add(t, 60);
  for (let t = now - DAY + INTERVAL_MS; t < now; t += INTERVAL_MS) add(t, 5);
  return samples;
}

async function timeQueries(layout: Layout, plan: StoragePlan, now: number) {
  const host = 'bench-history';
  const kinds: [string, () => Promise<unknown>][] = [
    ['1 h raw', () => layout.rawAnswer(host, 'cpu', now - HOUR, now)],
    ['24 h raw', () => layout.rawAnswer(host, 'cpu', now - DAY, now)],
    ['30 d 1m', () => layout.minuteAnswer(host, 'cpu', now - RETENTION_DAYS * DAY, now)],
  ];
  const figures = new Map<string, number>();
  for (const [name, query] of kinds) {
    await query();
    const latencies: number[] = [];
    for (let i = 0; i < plan.queries; i++) {
      const started = performance.now();
      await query();
      latencies.push(performance.now() - started);
    }
    figures.set(name, summarize(Float64Array.from(latencies)).p50);
  }
  return figures;
}

async function measureLayout(
  processes: Processes,
  plan: StoragePlan,
  make: (redis: Redis) => Layout,
  say: (message: string) => void,
): Promise<{ name: string; figures: LayoutFigures }> {
  const server = await processes.startRedis();
  const redis = new Redis(server.url);
  try {
    const layout = make(redis);
    const now = Date.now();
    say(`storage: ${layout.name}: one host-day at agent precision`);
    const agent = await weigh(redis, server.pid(), layout, hostDay('bench-agent', 1, false, now));
    say(`storage: ${layout.name}: one host-day of full-precision doubles`);
    const doubles = await weigh(
      redis,
      server.pid(),
      layout,
      hostDay('bench-doubles', 1, true, now),
    );
    say(`storage: ${layout.name}: 30 days at 1/min and a day at 1/5 s for the queries`);
    await foldAll(layout, historyHost(now));
    const queries = await timeQueries(layout, plan, now);
    const values = DAY_SAMPLES * WALKS.length;
    const kind = (k: Kind) => (agent.byKind.get(k) ?? 0) * values;
    const perHost =
      kind('raw points') +
      kind('dedup record') +
      kind('latest, meta, state') +
      RETENTION_DAYS * kind('minute aggregates');
    return { name: layout.name, figures: { agent, doubles, perHost, queries } };
  } finally {
    redis.disconnect();
  }
}

const SETTINGS = { horizonMs: DAY + HOUR, rawRetentionMs: DAY + HOUR, minuteRetentionMs: 31 * DAY };

function codecLayout(redis: Redis): Layout {
  const folder = new Folder(redis, SETTINGS);
  return {
    name: 'codec (layout 2)',
    fold: (s) => folder.fold(s),
    rawAnswer: async (h, m, from, to) => {
      const out = new JsonText();
      writeRawPoints(out, await readRawSeries(redis, h, m, from, to), {
        intervalMs: 5_000,
        gapMs: 10_000,
        from,
        to,
      });
      return out.bytes();
    },
    minuteAnswer: async (h, m, from, to) => {
      const out = new JsonText();
      writeMinutes(out, await readMinuteSeries(redis, h, m, from, to), from, to);
      return out.bytes();
    },
    kind: (suffix) =>
      suffix.startsWith('r:')
        ? 'raw points'
        : suffix.startsWith('m:')
          ? 'minute aggregates'
          : suffix.startsWith('d:')
            ? 'dedup record'
            : 'latest, meta, state',
  };
}

function v1Layout(redis: Redis): Layout {
  const folder = new V1Folder(redis, SETTINGS);
  return {
    name: 'before (layout 1)',
    fold: (s) => folder.fold(s),
    rawAnswer: async (h, m, from, to) =>
      v1RenderRawPoints(
        v1MarkGaps(await v1ReadRaw(redis, h, m, from, to), 5_000, 10_000, from, to),
      ),
    minuteAnswer: async (h, m, from, to) =>
      v1RenderMinutePoints(await v1ReadMinutes(redis, h, m, from, to), from, to),
    kind: (suffix) =>
      suffix.startsWith('raw:')
        ? 'raw points'
        : suffix.startsWith('1m:')
          ? 'minute aggregates'
          : suffix === 'seen' || suffix === 'stored'
            ? 'dedup record'
            : 'latest, meta, state',
  };
}

/** Runs both layouts and renders the table. */
export async function measureStorage(
  processes: Processes,
  plan: StoragePlan,
  say: (message: string) => void,
): Promise<string> {
  const codec = await measureLayout(processes, plan, codecLayout, say);
  const before = await measureLayout(processes, plan, v1Layout, say);
  const a = codec.figures;
  const b = before.figures;
  const bytes = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} B`;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 2 : 0)} MiB`;
  const kinds: Kind[] = ['raw points', 'minute aggregates', 'dedup record', 'latest, meta, state'];
  const row = (
    label: string,
    target: string,
    x: number,
    y: number,
    unit: (n: number) => string,
  ) => [label, target, unit(x), unit(y), ratio(y / x)];
  return renderTable(
    [
      `Redis storage: ${WALKS.length} metrics every 5 s, one host-day (${count(DAY_SAMPLES)} samples)`,
      'target',
      codec.name,
      before.name,
      'before / codec',
    ],
    [
      row(
        'bytes per stored value, all included (agent precision)',
        '≤ 8 B',
        a.agent.perValue,
        b.agent.perValue,
        bytes,
      ),
      ...kinds.map((k) =>
        row(
          `  of which ${k} (MEMORY USAGE)`,
          '',
          a.agent.byKind.get(k) ?? 0,
          b.agent.byKind.get(k) ?? 0,
          bytes,
        ),
      ),
      row(
        'bytes per stored value, full-precision doubles',
        '',
        a.doubles.perValue,
        b.doubles.perValue,
        bytes,
      ),
      row(
        'Redis per host: 24 h raw + 30 d of one-minute aggregates',
        '≤ 12 MiB',
        a.perHost,
        b.perHost,
        mib,
      ),
      [
        '  hosts per GiB of Redis',
        '',
        count(2 ** 30 / a.perHost),
        count(2 ** 30 / b.perHost),
        ratio(b.perHost / a.perHost),
      ],
      row(
        'redis-server CPU per folded sample (µs)',
        '≤ before',
        a.agent.foldUs,
        b.agent.foldUs,
        (n) => n.toFixed(1),
      ),
      ...[
        ['1 h raw', '≤ 2 ms'],
        ['24 h raw', '≤ 15 ms'],
        ['30 d 1m', '≤ 30 ms'],
      ].map(([name, target]) =>
        row(
          `history read + render p50, ${name} (ms)`,
          target!,
          a.queries.get(name!)!,
          b.queries.get(name!)!,
          ms,
        ),
      ),
    ],
  );
}
