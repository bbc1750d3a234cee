// The clock of absent rules: every ABSENT_CHECK_EVERY it looks for hosts whose
// newest sample is older than their deadline (a number of their own intervals),
// and opens their absent incidents. Every copy of the rules consumer runs it;
// the per-host Lua step (absent.lua) makes any number of copies open one
// incident per episode. Never judges by a clock the samples have not reached:
// see horizon().
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import { incidentKeys, RULES_CONSUMER } from '../../proto/incident.ts';
import { alertKeys } from '../../proto/keys.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../../proto/subjects.ts';
import type { Publish, RuleEvaluator } from './evaluator.ts';
import { ruleWatches } from './rules.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadstarOpenAbsent(
      numKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<(string | number)[], Context>;
    loadstarForgetDeadline(key: string, host: string, score: string): Result<number, Context>;
  }
}

const OPEN_ABSENT = readFileSync(new URL('./absent.lua', import.meta.url), 'utf8');
/** Removes a host from the deadline index only if no newer sample moved its deadline meanwhile. */
const FORGET_DEADLINE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`;

/** Hosts looked at per check; the rest wait for the next (a whole fleet going silent at once). */
const BATCH = 1_000;
/**
 * Slack for the clocks of this process and of the NATS server that stamps
 * arrivals: a sample stamped a little ahead of our clock is still counted.
 */
const CLOCK_SLACK_MS = 250;

export function createAbsenceCounters(registry: Registry) {
  return {
    checks: new Counter({
      name: 'loadstar_rules_absence_checks_total',
      help: 'Looks for hosts gone silent, by outcome (done, or failed: NATS or Redis away)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

export class AbsenceWatch {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly nats: NatsLink,
    private readonly redis: RedisClient,
    private readonly evaluator: RuleEvaluator,
    private readonly publish: Publish,
    private readonly counters: ReturnType<typeof createAbsenceCounters>,
    private readonly log: Log,
    private readonly everyMs: number,
    private readonly retentionMs: number,
  ) {
    redis.defineCommand('loadstarOpenAbsent', { lua: OPEN_ABSENT });
    redis.defineCommand('loadstarForgetDeadline', { lua: FORGET_DEADLINE, numberOfKeys: 1 });
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.check()
        .then(
          () => this.counters.checks.inc({ outcome: 'done' }),
          (err: Error) => {
            this.counters.checks.inc({ outcome: 'failed' });
            this.log.warn('looking for silent hosts failed; trying again', {
              error: err.message,
            });
          },
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.everyMs);
        });
    };
    this.timer = setTimeout(tick, this.everyMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One look: opens the absent incidents due and publishes them. Resolves with the number opened. */
  async check(): Promise<number> {
    if (this.evaluator.absentRules.length === 0) return 0;
    const horizon = await this.horizon();
    if (horizon === null) return 0;
    const due = await this.redis.zrangebyscore(
      alertKeys.absentDeadlines,
      '-inf',
      `(${horizon}`,
      'WITHSCORES',
      'LIMIT',
      0,
      BATCH,
    );
    let opened = 0;
    for (let i = 0; i < due.length; i += 2) {
      const host = due[i]!;
      const score = due[i + 1]!;
      let next = Number.POSITIVE_INFINITY;
      let openedHere = false;
      for (const rule of this.evaluator.absentRules.filter((r) => ruleWatches(r, host))) {
        const [code, deadline] = await this.redis.loadstarOpenAbsent(
          1,
          incidentKeys.alive(host),
          `ls:{${host}}:`,
          host,
          rule.name,
          rule.intervals,
          rule.severity,
          horizon,
          this.retentionMs,
        );
        if (Number(code) === 1) next = Math.min(next, Number(deadline));
        if (Number(code) === 3) openedHere = true;
      }
      if (openedHere) {
        opened++;
        await this.evaluator.drain(host, this.publish);
      }
      // A host with a rule still to fire waits for its next deadline; one silent for
      // every rule leaves the index until it sends again (its next sample puts it back).
      if (Number.isFinite(next)) await this.redis.zadd(alertKeys.absentDeadlines, 'GT', next, host);
      else await this.redis.loadstarForgetDeadline(alertKeys.absentDeadlines, host, score);
    }
    return opened;
  }

  /**
   * The time up to which every sample in the stream has been evaluated (so a
   * host with no sample before it sent none): now when nothing waits, else when
   * the oldest sample not yet acknowledged reached the stream. A rules consumer
   * catching up on a backlog (after a restart) thus calls no host silent that
   * only waits in the backlog. null when the stream cannot tell.
   */
  private async horizon(): Promise<number | null> {
    const before = Date.now();
    const info = await this.nats.jsm.consumers
      .info(SAMPLES_STREAM, RULES_CONSUMER)
      .catch((err: Error) => {
        if (/consumer not found/i.test(err.message)) return null;
        throw err;
      });
    if (!info) return null;
    if (info.num_pending === 0 && info.num_ack_pending === 0) return before - CLOCK_SLACK_MS;
    const oldest = await this.arrivalOf(info.ack_floor.stream_seq + 1);
    return oldest === null ? null : Math.min(oldest, before) - CLOCK_SLACK_MS;
  }

  /**
   * When the first sample at or after `seq` reached the stream. JetStream's
   * direct get (the samples stream allows it), asked as the protocol has it:
   * nats.js keeps its direct API off the JetStreamManager type.
   */
  private async arrivalOf(seq: number): Promise<number | null> {
    const reply = await this.nats.nc.request(
      `$JS.API.DIRECT.GET.${SAMPLES_STREAM}`,
      JSON.stringify({ seq, next_by_subj: SAMPLES_SUBJECTS }),
      { timeout: 2_000 },
    );
    const stamp = reply.headers?.get('Nats-Time-Stamp');
    if (reply.headers?.hasError || !stamp) return null;
    const ms = Date.parse(stamp);
    return Number.isFinite(ms) ? ms : null;
  }
}
