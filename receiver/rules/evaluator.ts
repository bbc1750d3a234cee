// Runs the rules over samples (one atomic Lua step per rule, host and sample,
// and one that records the host as alive) and hands every transition on:
// published on `incidents.<host>` and indexed for queries, at least once, from
// the host's outbox the Lua steps filled. Absent rules run on a clock instead
// (absence.ts); they share the outbox.
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import {
  type Incident,
  type IncidentEvent,
  incidentFromHash,
  incidentKeys,
  type Transition,
} from '../../proto/incident.ts';
import { alertKeys } from '../../proto/keys.ts';
import type { Sample } from '../../proto/sample.ts';
import { type AbsentRule, type Rule, ruleWatches, type ThresholdRule } from './rules.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarEvaluateRule(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<[number, string, string], Context>;
    loadstarHostSeen(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<string[], Context>;
  }
}

const EVALUATE = readFileSync(new URL('./evaluate.lua', import.meta.url), 'utf8');
const SEEN = readFileSync(new URL('./seen.lua', import.meta.url), 'utf8');

export type Publish = (event: IncidentEvent) => Promise<void>;

export class RuleEvaluator {
  private lastPrune = 0;
  private thresholds: ThresholdRule[] = [];
  private absents: AbsentRule[] = [];

  constructor(
    private readonly redis: RedisClient,
    rules: readonly Rule[],
    private readonly retentionMs: number,
    /** A host's interval when its samples declare none (INTERVAL), ms. */
    private readonly defaultIntervalMs = 5_000,
  ) {
    redis.defineCommand('loadstarEvaluateRule', { lua: EVALUATE });
    redis.defineCommand('loadstarHostSeen', { lua: SEEN });
    this.use(rules);
  }

  /** The rules in force from now on (a reload); state kept per rule name carries over. */
  use(rules: readonly Rule[]): void {
    this.thresholds = rules.filter((r): r is ThresholdRule => r.kind === 'threshold');
    this.absents = rules.filter((r): r is AbsentRule => r.kind === 'absent');
  }

  get absentRules(): readonly AbsentRule[] {
    return this.absents;
  }

  /**
   * Evaluates every rule that watches this sample's host and metric, after
   * recording the host as alive (which ends its absent incidents); resolves with
   * the transitions. `arrival` is when the sample reached the stream (epoch ms).
   */
  async evaluate(sample: Sample, arrival: number): Promise<Transition[]> {
    const intervalMs = sample.interval > 0 ? sample.interval * 1000 : this.defaultIntervalMs;
    const seen = this.redis.loadstarHostSeen(
      1,
      incidentKeys.alive(sample.host),
      `ls:{${sample.host}}:`,
      arrival,
      Math.round(intervalMs),
      this.retentionMs,
    );
    // The index the absence clock scans: the earliest moment this host could count as silent.
    // GT: a redelivered older sample never moves it back.
    const watching = this.absents.filter((rule) => ruleWatches(rule, sample.host));
    const indexed =
      watching.length === 0
        ? Promise.resolve()
        : this.redis.zadd(
            alertKeys.absentDeadlines,
            'GT',
            arrival + Math.round(Math.min(...watching.map((r) => r.intervals)) * intervalMs),
            sample.host,
          );
    const evaluated = Promise.all(
      this.thresholds
        .filter(
          (rule) => sample.metrics[rule.metric] !== undefined && ruleWatches(rule, sample.host),
        )
        .map((rule) =>
          this.redis.loadstarEvaluateRule(
            1,
            incidentKeys.ruleState(sample.host, rule.name),
            `ls:{${sample.host}}:`,
            sample.host,
            rule.name,
            rule.metric,
            String(sample.time),
            String(sample.metrics[rule.metric]),
            rule.window.kind,
            rule.window.size,
            rule.aggregate,
            rule.op,
            String(rule.threshold),
            String(rule.resolve),
            rule.forMs,
            rule.severity,
            rule.window.text,
            this.retentionMs,
          ),
        ),
    );
    const [ended, , results] = await Promise.all([seen, indexed, evaluated]);
    return [
      ...ended.map((): Transition => 'resolved'),
      ...results
        .map(([, transition]) => transition)
        .filter((t): t is Transition => t === 'opened' || t === 'resolved'),
    ];
  }

  /**
   * Publishes and indexes whatever transitions wait in the host's outbox, oldest
   * first, removing each only after both: a crash in between repeats it, and the
   * publish is deduplicated by `<id>:<transition>`.
   */
  async drain(host: string, publish: Publish): Promise<number> {
    const outbox = incidentKeys.outbox(host);
    const entries = await this.redis.lrange(outbox, 0, -1);
    for (const entry of entries) {
      const [transition, id] = entry.split('|') as [Transition, string];
      const incident = incidentFromHash(await this.redis.hgetall(incidentKeys.incident(host, id)));
      if (incident) {
        // The record as of this transition (a later resolution must not show in the "opened" event).
        const asOf: Incident =
          transition === 'opened'
            ? { ...incident, state: 'open', resolved_at_ms: null, resolution: null }
            : incident;
        await publish({ transition, incident: asOf });
        await this.index(asOf, transition);
      }
      await this.redis.lrem(outbox, 1, entry);
    }
    await this.prune();
    return entries.length;
  }

  private async index(incident: Incident, transition: Transition): Promise<void> {
    await this.redis.hset(incidentKeys.all, incident.id, JSON.stringify(incident));
    await this.redis.zadd(incidentKeys.byTime, incident.opened_at_ms, incident.id);
    if (transition === 'opened' && incident.state === 'open')
      await this.redis.zadd(incidentKeys.open, incident.opened_at_ms, incident.id);
    else await this.redis.zrem(incidentKeys.open, incident.id);
  }

  /** Forgets incidents opened longer ago than the retention, once a minute at most. */
  private async prune(): Promise<void> {
    if (Date.now() - this.lastPrune < 60_000) return;
    this.lastPrune = Date.now();
    const old = await this.redis.zrangebyscore(
      incidentKeys.byTime,
      '-inf',
      Date.now() - this.retentionMs,
    );
    if (old.length === 0) return;
    await this.redis.hdel(incidentKeys.all, ...old);
    await this.redis.zrem(incidentKeys.byTime, ...old);
    await this.redis.zrem(incidentKeys.open, ...old);
    await this.redis.hdel(alertKeys.acks, ...old);
  }
}
