// What must hold after every fault, checked against the simulated agents' own
// records: every sample they created is in Redis (history and latest value)
// exactly once, the stream holds each host's samples in order, and a gRPC
// subscriber that reconnects from its last position missed nothing.
import { join } from 'node:path';
import { DeliverPolicy, type NatsConnection } from 'nats';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { keys } from '../../proto/keys.ts';
import { decodeSample, type Sample } from '../../proto/sample.ts';
import { rawBlockKeys, rawPoints } from '../../proto/store/codec.ts';
import { SAMPLES_STREAM } from '../../proto/subjects.ts';
import { readCreated } from './agents.ts';

export interface HostRecord {
  host: string;
  created: Sample[];
}

export function readAgents(agentsDir: string, agents: number): HostRecord[] {
  return Array.from({ length: agents }, (_, i) => {
    const host = `fault-agent-${i}`;
    return { host, created: readCreated(join(agentsDir, host, 'created.ndjson')) };
  });
}

export interface Tally {
  created: number;
  /** Created samples not in Redis history. */
  lost: number;
  /** Samples counted twice: two history points for one seq, or a fold count above the samples. */
  duplicated: number;
  /** Hosts whose latest value is older than their newest sample. */
  latestWrong: number;
  /** What was found doubled, host by host, to read when a fault fails. */
  details: string[];
}

/** Compares what the agents created up to now with Redis (one server or a Redis Cluster). */
export async function tally(redis: RedisClient, records: HostRecord[]): Promise<Tally> {
  const result: Tally = { created: 0, lost: 0, duplicated: 0, latestWrong: 0, details: [] };
  for (const { host, created } of records) {
    result.created += created.length;
    // One atomic read: a fold landing between two reads would look like a doubled sample.
    const from = Math.min(...created.map((s) => s.time), Date.now());
    const blocks = rawBlockKeys(host, 'seq', from, Date.now() + 3_600_000);
    const answers = (await redis
      .multi()
      .mgetBuffer(...blocks.keys)
      .hget(keys.hostMeta(host), 'samples')
      .hget(keys.hostLatest(host), 'seq')
      .exec()) as [Error | null, unknown][];
    const points = rawPoints(blocks.hours, answers[0]![1] as (Buffer | null)[], 0, Infinity);
    const samples = answers[1]![1] as string | null;
    const latest = answers[2]![1] as string | null;
    const values = points.map(([, v]) => v);
    const found = new Set(values);
    result.lost += created.filter((s) => !found.has(s.metrics.seq!)).length;
    const doubled = values.length - found.size + Math.max(0, Number(samples ?? 0) - found.size);
    if (doubled > 0) {
      const repeated = values.filter((v, i) => values.indexOf(v) !== i);
      result.details.push(
        `${host}: ${values.length} points for ${found.size} seq, fold count ${samples}, repeated seq ${repeated.join(',')}`,
      );
    }
    result.duplicated += doubled;
    // The newest value must be at least as new as the newest sample created so far (agents keep going).
    const newest = created.reduce((max, sample) => Math.max(max, sample.time), -1);
    if (newest >= 0 && Number(latest?.split('|')[0] ?? -1) < newest) result.latestWrong++;
  }
  return result;
}

/**
 * Hosts whose samples sit out of order in the stream (by first occurrence: a
 * retried publish beyond the duplicate window may repeat one), each with where
 * its first misplaced sample sits. Reads the whole stream once, up to its last
 * position when the read starts.
 */
export async function outOfOrder(nc: NatsConnection, hosts: string[]): Promise<string[]> {
  const last = (await (await nc.jetstreamManager()).streams.info(SAMPLES_STREAM)).state.last_seq;
  const consumer = await nc.jetstream().consumers.get(SAMPLES_STREAM, {
    filterSubjects: 'metrics.samples.>',
    // From position 1 rather than DeliverPolicy.All, on which nats.js 2.29's ordered consumer never starts.
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: 1,
  });
  const messages = await consumer.consume({ max_messages: 1_000, expires: 5_000 });
  const watched = new Set(hosts);
  const newest = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  const wrong = new Map<string, string>();
  const deadline = setTimeout(() => void messages.close(), 90_000);
  try {
    for await (const msg of messages) {
      const sample = decodeSample(msg.string());
      if (watched.has(sample.host)) {
        const seq = sample.metrics.seq!;
        const mine = seen.get(sample.host) ?? new Set<number>();
        seen.set(sample.host, mine);
        if (!mine.has(seq)) {
          const before = newest.get(sample.host) ?? -1;
          if (seq < before && !wrong.has(sample.host)) {
            wrong.set(sample.host, `seq ${seq} at position ${msg.seq}, after seq ${before}`);
          }
          mine.add(seq);
          newest.set(sample.host, Math.max(seq, newest.get(sample.host) ?? -1));
        }
      }
      if (msg.seq >= last) break;
    }
  } finally {
    clearTimeout(deadline);
    await messages.close();
  }
  return [...wrong].map(([host, where]) => `${host}: ${where}`);
}
