// The notifier's front: reads every transition from the incidents stream
// through the durable consumer `loadstar-notifier`, one at a time across every
// copy (so each incident's transitions keep their order), and queues one
// delivery per receiver its routes pick, unless a silence holds it now. A
// transition is acknowledged only once every delivery is queued (durable in
// JetStream): a crash in between queues them again, and the deliveries
// stream's duplicate window keeps them once.
import type { JsMsg } from 'nats';
import { Counter, type Registry } from 'prom-client';
import { DurableReader } from '../../deploy/runtime/durable.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import type { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import {
  INCIDENTS_STREAM,
  INCIDENTS_SUBJECTS,
  type IncidentEvent,
  NOTIFIER_CONSUMER,
} from '../../proto/incident.ts';
import { deliverySubject } from '../../proto/receivers.ts';
import type { SilenceStore } from '../../proto/silence.ts';
import { type Delivery, HOLD_MS } from './delivery.ts';
import { type Routing, targetsOf } from './routing.ts';

export function createDispatchCounters(registry: Registry) {
  return new Counter({
    name: 'loadstar_notifier_transitions_total',
    help: 'Incident transitions taken by the notifier, by transition and outcome: routed (queued for its receivers), silenced, unrouted (no route matched)',
    labelNames: ['transition', 'outcome'],
    registers: [registry],
  });
}

/** Queues a delivery: its Nats-Msg-Id `<receiver>/<key>` keeps a repeat out of the queue. */
export function queueDelivery(publisher: JetStreamPublisher, delivery: Delivery) {
  return publisher.publish(
    deliverySubject(delivery.receiver),
    JSON.stringify(delivery),
    `${delivery.receiver}/${delivery.key}`,
  );
}

export class Dispatcher {
  private readonly reader: DurableReader;
  private stopping = false;

  constructor(
    nats: NatsLink,
    private readonly publisher: JetStreamPublisher,
    private readonly silences: SilenceStore,
    private readonly routing: () => Routing,
    private readonly transitions: ReturnType<typeof createDispatchCounters>,
    private readonly log: Log,
  ) {
    this.reader = new DurableReader(
      nats,
      {
        stream: INCIDENTS_STREAM,
        name: NOTIFIER_CONSUMER,
        filter: INCIDENTS_SUBJECTS,
        batch: 16,
        maxAckPending: 1,
        ackWaitMs: HOLD_MS,
        pullExpiresMs: 5_000,
        // A first start tells of what happens from then on, not of a month of history.
        startAt: 'new',
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
  }

  private async take(msg: JsMsg): Promise<void> {
    let event: IncidentEvent;
    try {
      event = JSON.parse(msg.string()) as IncidentEvent;
      if (!event.incident?.id || (event.transition !== 'opened' && event.transition !== 'resolved'))
        throw new Error('not an incident transition');
    } catch {
      this.log.warn('not an incident transition; skipped', { seq: msg.seq });
      msg.term();
      return;
    }
    const holding = setInterval(() => msg.working(), HOLD_MS / 3);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.route(event);
          msg.ack();
          return;
        } catch (err) {
          if (this.stopping) {
            msg.nak();
            return;
          }
          if (attempt === 1)
            this.log.warn('could not queue the deliveries of a transition; retrying', {
              id: event.incident.id,
              error: (err as Error).message,
            });
          await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2_000)));
        }
      }
    } finally {
      clearInterval(holding);
    }
  }

  private async route({ transition, incident }: IncidentEvent): Promise<void> {
    const fields = { id: incident.id, rule: incident.rule, host: incident.host, transition };
    const held = await this.silences.holding(incident);
    if (held.length > 0) {
      this.transitions.inc({ transition, outcome: 'silenced' });
      this.log.info('transition silenced; nothing sent', {
        ...fields,
        silences: held.map((s) => s.id).join(','),
      });
      return;
    }
    const targets = targetsOf(this.routing(), incident);
    if (targets.length === 0) {
      this.transitions.inc({ transition, outcome: 'unrouted' });
      return;
    }
    const now = Date.now();
    await Promise.all(
      targets.map(({ receiver }) =>
        queueDelivery(this.publisher, {
          key: `${incident.id}:${transition}`,
          receiver: receiver.name,
          transition,
          incident,
          created_at_ms: now,
        }),
      ),
    );
    this.transitions.inc({ transition, outcome: 'routed' });
  }
}
