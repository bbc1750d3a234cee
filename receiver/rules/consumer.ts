// The rules consumer: reads the samples stream through its own durable consumer
// and evaluates each host's samples as they arrive, in order per host (a window
// needs its samples in order), acknowledging a sample only once its transitions
// are published and indexed. (Absent rules run on a clock: absence.ts.)
import type { JsMsg } from 'nats';
import { Counter, type Registry } from 'prom-client';
import { DurableReader } from '../../deploy/runtime/durable.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import type { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import { type IncidentEvent, incidentSubject, RULES_CONSUMER } from '../../proto/incident.ts';
import { decodeSample, InputError, type Sample } from '../../proto/sample.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../../proto/subjects.ts';
import type { RuleEvaluator } from './evaluator.ts';

export interface RulesCounters {
  evaluated: Counter<never>;
  transitions: Counter<'transition'>;
  errors: Counter<never>;
}

export function createRulesCounters(registry: Registry): RulesCounters {
  return {
    evaluated: new Counter({
      name: 'loadstar_rules_samples_evaluated_total',
      help: 'Samples run through the incident rules',
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'loadstar_incidents_total',
      help: 'Incidents opened and resolved',
      labelNames: ['transition'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'loadstar_rules_errors_total',
      help: 'Evaluations that failed (Redis or NATS away); each is retried',
      registers: [registry],
    }),
  };
}

/** Samples taken but not yet acknowledged, across hosts. */
const IN_FLIGHT = 1_024;

export class RulesConsumer {
  private readonly reader: DurableReader;
  /** The last work queued per host: a host's samples run one after another. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    nats: NatsLink,
    private readonly evaluator: RuleEvaluator,
    private readonly publisher: JetStreamPublisher,
    private readonly counters: RulesCounters,
    private readonly log: Log,
  ) {
    this.reader = new DurableReader(
      nats,
      {
        stream: SAMPLES_STREAM,
        name: RULES_CONSUMER,
        filter: SAMPLES_SUBJECTS,
        batch: 256,
        maxAckPending: IN_FLIGHT * 2,
        ackWaitMs: 30_000,
        pullExpiresMs: 5_000,
      },
      log,
      (msg) => this.take(msg),
    );
  }

  start(): void {
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.reader.stop();
    await Promise.all(this.pending);
  }

  private async take(msg: JsMsg): Promise<void> {
    let sample: Sample;
    try {
      sample = decodeSample(msg.string());
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      this.log.warn('not a sample; skipped by the rules', { seq: msg.seq, error: err.message });
      msg.term();
      return;
    }
    const host = sample.host;
    // When the sample reached the stream: what absent rules judge silence by (not the host's clock).
    const arrival = Math.floor(msg.info.timestampNanos / 1e6);
    const work = (this.chains.get(host) ?? Promise.resolve()).then(() =>
      this.handle(msg, sample, arrival),
    );
    this.chains.set(host, work);
    this.pending.add(work);
    void work.finally(() => {
      this.pending.delete(work);
      if (this.chains.get(host) === work) this.chains.delete(host);
    });
    while (this.pending.size >= IN_FLIGHT) await Promise.race(this.pending);
  }

  private async handle(msg: JsMsg, sample: Sample, arrival: number): Promise<void> {
    for (let attempt = 1; !this.stopping || attempt === 1; attempt++) {
      try {
        const transitions = await this.evaluator.evaluate(sample, arrival);
        for (const t of transitions) this.counters.transitions.inc({ transition: t });
        // Whatever waits in the outbox goes out, this sample's transitions and any a crash left.
        await this.evaluator.drain(sample.host, (event) => this.publish(event));
        this.counters.evaluated.inc();
        msg.ack();
        return;
      } catch (err) {
        this.counters.errors.inc();
        if (attempt === 1)
          this.log.warn('rule evaluation failed; retrying', {
            host: sample.host,
            error: (err as Error).message,
          });
        msg.working();
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2_000)));
      }
    }
  }

  /** Publishes one transition on `incidents.<host>`, deduplicated by `<id>:<transition>`. */
  readonly publish = async (event: IncidentEvent): Promise<void> => {
    const { incident, transition } = event;
    await this.publisher.publish(
      incidentSubject(incident.host),
      JSON.stringify(event),
      `${incident.id}:${transition}`,
    );
    this.log.info(`incident ${transition}`, {
      id: incident.id,
      rule: incident.rule,
      host: incident.host,
      severity: incident.severity,
      ...(incident.resolution === 'host_silent' && { resolution: incident.resolution }),
    });
  };
}
