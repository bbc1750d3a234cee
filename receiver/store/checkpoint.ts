// Keeps Redis honest about what it holds. Every few seconds the storage consumer
// writes into Redis the stream position up to which everything is folded (its
// durable consumer's ack floor), and then the same into NATS KV. A Redis that
// comes back empty, or from an old snapshot, holds a lower position than KV
// remembers: everything after its own position is then folded again from the
// stream, for as far back as the stream keeps samples.
import type { KV } from 'nats';
import { Counter, type Registry } from 'prom-client';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import type { RecordingStore } from '../../deploy/runtime/recording-store.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { keys } from '../../proto/keys.ts';
import { copyRulesToRedis } from '../../proto/recording.ts';
import { SAMPLES_STREAM, STORE_CONSUMER } from '../../proto/subjects.ts';
import type { Folder } from '../fold.ts';
import { refold } from './refold.ts';

export const STORE_BUCKET = 'loadstar_store';
const CHECKPOINT_KEY = 'checkpoint';
/** One rebuild at a time across every copy of the storage consumer. */
const LOCK_MS = 60_000;

/** Raises the checkpoint, never lowers it (several copies may write it). */
const RAISE = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]) return new end
return cur`;

export interface CheckpointCounters {
  rebuilds: Counter<never>;
  rebuilt: Counter<never>;
}

export function createCheckpointCounters(registry: Registry): CheckpointCounters {
  return {
    rebuilds: new Counter({
      name: 'loadstar_store_rebuilds_total',
      help: 'Times Redis was found behind the stream (empty, or an old snapshot) and folded again',
      registers: [registry],
    }),
    rebuilt: new Counter({
      name: 'loadstar_store_rebuilt_samples_total',
      help: 'Samples folded again during rebuilds',
      registers: [registry],
    }),
  };
}

export class Checkpointer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private kv?: KV;
  private readonly owner = `${process.pid}-${Math.random().toString(36).slice(2)}`;

  constructor(
    private readonly nats: NatsLink,
    private readonly redis: RedisClient,
    private readonly folder: Folder,
    private readonly recording: RecordingStore,
    private readonly counters: CheckpointCounters,
    private readonly log: Log,
    private readonly everyMs: number,
    /** Copies of the record in NATS (NATS_REPLICAS): it must outlive the NATS node that holds it. */
    private readonly replicas = 1,
  ) {
    redis.defineCommand('loadstarRaiseCheckpoint', { numberOfKeys: 1, lua: RAISE });
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.check()
        .catch((err: Error) => this.log.debug('checkpoint skipped', { error: err.message }))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.everyMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Compares Redis's position with the record's, then rebuilds or moves both forward. Public for tests. */
  async check(): Promise<void> {
    this.kv ??= await this.nats.js.views.kv(STORE_BUCKET, { history: 1, replicas: this.replicas });
    if (await this.redis.exists(keys.rebuilding)) return; // another copy is rebuilding
    const held = Number((await this.redis.get(keys.checkpoint)) ?? 0);
    const entry = await this.kv.get(CHECKPOINT_KEY);
    const recorded = entry && entry.length > 0 ? Number(entry.string()) : 0;
    if (held < recorded) {
      await this.rebuild(held, recorded);
      return;
    }
    const info = await this.nats.jsm.consumers.info(SAMPLES_STREAM, STORE_CONSUMER);
    const floor = info.ack_floor.stream_seq;
    if (floor <= held) return;
    // Redis first: a crash between the two leaves KV behind Redis, which is safe.
    await (
      this.redis as unknown as {
        loadstarRaiseCheckpoint(key: string, value: number): Promise<number>;
      }
    ).loadstarRaiseCheckpoint(keys.checkpoint, floor);
    if (floor > recorded) await this.kv.put(CHECKPOINT_KEY, String(floor));
  }

  private async rebuild(held: number, recorded: number): Promise<void> {
    if ((await this.redis.set(keys.rebuilding, this.owner, 'PX', LOCK_MS, 'NX')) !== 'OK') return;
    const keepLock = setInterval(() => {
      void this.redis.set(keys.rebuilding, this.owner, 'PX', LOCK_MS).catch(() => {});
    }, LOCK_MS / 3);
    try {
      this.counters.rebuilds.inc();
      this.log.warn(
        'Redis is behind the stream (emptied, or an old snapshot): folding the stream again',
        {
          redis_position: held,
          recorded_position: recorded,
        },
      );
      // Recording rules first, so the refold keeps out what was paused or wiped.
      const { rules } = await this.recording.read();
      await copyRulesToRedis(this.redis, rules, Object.keys(rules.hosts));
      const started = Date.now();
      const result = await refold(this.nats, this.folder, held + 1, this.log);
      this.counters.rebuilt.inc(result.folded);
      await (
        this.redis as unknown as {
          loadstarRaiseCheckpoint(key: string, value: number): Promise<number>;
        }
      ).loadstarRaiseCheckpoint(keys.checkpoint, Math.max(result.to, recorded));
      this.log.info('Redis rebuilt from the stream', {
        from: result.from,
        to: result.to,
        folded: result.folded,
        unchanged: result.unchanged,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      });
    } finally {
      clearInterval(keepLock);
      if ((await this.redis.get(keys.rebuilding).catch(() => null)) === this.owner)
        await this.redis.del(keys.rebuilding);
    }
  }
}
