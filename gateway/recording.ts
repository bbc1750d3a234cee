// Recording control: pause and resume history for one host or all, and reset
// (wipe) history. The rules are recorded in NATS KV, then copied to each host's
// Redis key the fold reads, and only then is history deleted, so no fold can
// write into history that a reset has just wiped.
import { UnavailableError } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import type { RecordingStore } from '../deploy/runtime/recording-store.ts';
import type { RedisClient } from '../deploy/runtime/redis.ts';
import { keys } from '../proto/keys.ts';
import {
  copyRulesToRedis,
  emptyRules,
  pause,
  prune,
  type RecordingRules,
  recordingNow,
  resume,
  wipe,
} from '../proto/recording.ts';
import type { Retention } from '../proto/retention.ts';
import { historyKeysOf } from '../proto/store/codec.ts';

export type RecordingAction = 'pause' | 'resume' | 'reset';

export interface ScopeStatus {
  recording: boolean;
  /** Which pause holds it: this host's own, or the one for all hosts. */
  paused_by: 'all' | 'host' | null;
  since: string | null;
  wiped_before: string | null;
}

export class RecordingControl {
  private rules: RecordingRules = emptyRules();
  private stopWatch: () => void = () => {};

  constructor(
    private readonly redis: RedisClient,
    private readonly store: RecordingStore,
    private readonly retention: Retention,
    private readonly log: Log,
  ) {}

  async start(): Promise<void> {
    this.stopWatch = await this.store.watch((rules) => {
      this.rules = rules;
    }, this.log);
    this.rules = (await this.store.read()).rules;
  }

  stop(): void {
    this.stopWatch();
  }

  /** The rules as last seen (the watch keeps them current). */
  current(): RecordingRules {
    return this.rules;
  }

  status(host: string | null): ScopeStatus {
    const now = recordingNow(this.rules, host);
    const wiped = Math.max(
      this.rules.all.wipedBefore,
      host === null ? 0 : (this.rules.hosts[host]?.wipedBefore ?? 0),
    );
    return {
      recording: now.recording,
      paused_by: now.pausedBy,
      since: now.since === null ? null : new Date(now.since).toISOString(),
      wiped_before: wiped > 0 ? new Date(wiped).toISOString() : null,
    };
  }

  /** Applies an action to one host (or all when host is null); resolves once it is in force. */
  async apply(action: RecordingAction, host: string | null): Promise<ScopeStatus> {
    const now = Date.now();
    const change = { pause, resume, reset: wipe }[action];
    this.rules = await this.store
      .update((rules) => prune(change(rules, host, now), now, this.retention.minuteRetentionMs))
      .catch((err: Error) => {
        throw new UnavailableError(
          `the recording rules could not be saved (${err.message}); retry later`,
        );
      });
    const hosts = host === null ? await this.knownHosts() : [host];
    await this.copyRules(
      host === null ? [...new Set([...hosts, ...Object.keys(this.rules.hosts)])] : hosts,
    );
    if (action === 'reset') await this.deleteHistory(hosts);
    this.log.info(`recording ${action}`, { host: host ?? 'all hosts' });
    return this.status(host);
  }

  private async knownHosts(): Promise<string[]> {
    return this.redis.zrange(keys.hosts, '0', '-1').catch((err: Error) => {
      throw new UnavailableError(`Redis is not answering (${err.message}); retry later`);
    });
  }

  /** Writes each host's copy of the rules, which the fold reads in the same script as it writes. */
  private async copyRules(hosts: string[]): Promise<void> {
    await copyRulesToRedis(this.redis, this.rules, hosts).catch((err: Error) => {
      throw new UnavailableError(
        `Redis did not take the recording rules (${err.message}); retry later`,
      );
    });
  }

  private async deleteHistory(hosts: string[]): Promise<void> {
    await Promise.all(
      hosts.map(async (h) => {
        const metrics = await this.redis.smembers(keys.metrics(h));
        // All keys of one host share its hash tag: one UNLINK per host even on a cluster.
        await this.redis.unlink(...historyKeysOf(h, metrics, this.retention));
      }),
    ).catch((err: Error) => {
      throw new UnavailableError(
        `Redis did not finish the reset (${err.message}); retry: a reset can be repeated safely`,
      );
    });
  }
}
