// The recording rules' record in NATS KV (the format is proto/recording.ts):
// read, update with compare-and-set, watch. Never writes rules it did not read
// first: an update that lost a race is retried on the new revision.
import type { KV, NatsConnection } from 'nats';
import {
  emptyRules,
  parseRules,
  RECORDING_BUCKET,
  type RecordingRules,
  RULES_KEY,
} from '../../proto/recording.ts';
import type { Log } from './log.ts';

/** The record of the rules in NATS KV: read, update with compare-and-set, watch. */
export class RecordingStore {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, replicas: number): Promise<RecordingStore> {
    const kv = await nc.jetstream().views.kv(RECORDING_BUCKET, { history: 5, replicas });
    return new RecordingStore(kv);
  }

  async read(): Promise<{ rules: RecordingRules; revision: number }> {
    const entry = await this.kv.get(RULES_KEY);
    if (entry?.operation !== 'PUT' || entry.length === 0)
      return { rules: emptyRules(), revision: 0 };
    return { rules: parseRules(entry.string()), revision: entry.revision };
  }

  /** Applies `change` atomically (retrying when another writer got there first); returns the new rules. */
  async update(change: (rules: RecordingRules) => RecordingRules): Promise<RecordingRules> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { rules, revision } = await this.read();
      const next = change(rules);
      try {
        if (revision === 0) await this.kv.create(RULES_KEY, JSON.stringify(next));
        else await this.kv.update(RULES_KEY, JSON.stringify(next), revision);
        return next;
      } catch (err) {
        if (!/wrong last sequence|key exists/i.test((err as Error).message)) throw err;
      }
    }
    throw new Error('recording rules changed too often to update; try again');
  }

  /** Calls `onRules` with the current rules and again on every change, until the returned stop is called. */
  async watch(onRules: (rules: RecordingRules) => void, log: Log): Promise<() => void> {
    const watcher = await this.kv.watch({ key: RULES_KEY });
    (async () => {
      for await (const entry of watcher) {
        try {
          onRules(
            entry.operation === 'PUT' && entry.length > 0
              ? parseRules(entry.string())
              : emptyRules(),
          );
        } catch (err) {
          log.warn('unreadable recording rules ignored', { error: (err as Error).message });
        }
      }
    })().catch((err) => log.warn('recording rules watch ended', { error: (err as Error).message }));
    return () => watcher.stop();
  }
}
