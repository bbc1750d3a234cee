// The notifier's clock: while incidents stay open it queues reminders (routes
// with remind_every, for incidents neither acknowledged nor silenced) and, for
// Alertmanager receivers, a refresh every ALERTMANAGER_RESEND that re-asserts
// every open incident. Every copy runs it; the Nats-Msg-Id of each reminder
// (`<receiver>/<id>:reminder:<n>`) and refresh queues it once, and the record
// of the last reminder queued keeps a later tick from queueing it again.

import type { Log } from '../../deploy/runtime/log.ts';
import type { JetStreamPublisher } from '../../deploy/runtime/publish.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import type { AckStore } from '../../proto/ack.ts';
import { alertKeys } from '../../proto/keys.ts';
import { type SilenceStore, silences } from '../../proto/silence.ts';
import type { Delivery } from './delivery.ts';
import { queueDelivery } from './dispatcher.ts';
import { type Routing, targetsOf } from './routing.ts';
import type { IncidentState } from './state.ts';

export class NotifierClock {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly publisher: JetStreamPublisher,
    private readonly state: IncidentState,
    private readonly routing: () => Routing,
    private readonly silenceStore: SilenceStore,
    private readonly acks: AckStore,
    private readonly resendMs: number,
    private readonly log: Log,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: Error) =>
          this.log.warn('could not queue reminders; trying again', { error: err.message }),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.tickMs());
        });
    };
    this.timer = setTimeout(tick, this.tickMs());
  }

  /** A quarter of the shortest period asked for (resend, reminders), from 250 ms to 5 s. */
  private tickMs(): number {
    const periods = [
      this.resendMs,
      ...this.routing()
        .routes.map((r) => r.remindEveryMs)
        .filter((ms): ms is number => ms !== null),
    ];
    return Math.min(5_000, Math.max(250, Math.min(...periods) / 4));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async tick(now = Date.now()): Promise<void> {
    const open = await this.state.open();
    await this.forget(open.map((i) => i.id));
    if (open.length === 0) return;
    const [held, acked] = await Promise.all([
      this.silenceStore.list(),
      this.acks.many(open.map((i) => i.id)),
    ]);
    const routing = this.routing();
    const refresh = new Set<string>();
    const due: { receiver: string; field: string; n: number; delivery: Delivery }[] = [];
    open.forEach((incident, k) => {
      if (held.some((s) => silences(s, incident, now))) return;
      for (const { receiver, remindEveryMs } of targetsOf(routing, incident)) {
        if (receiver.type === 'alertmanager') {
          refresh.add(receiver.name);
        } else if (remindEveryMs !== null && !acked[k]) {
          const n = Math.floor((now - incident.opened_at_ms) / remindEveryMs);
          if (n < 1) continue;
          due.push({
            receiver: receiver.name,
            field: `${incident.id}|${receiver.name}`,
            n,
            delivery: {
              key: `${incident.id}:reminder:${n}`,
              receiver: receiver.name,
              transition: 'reminder',
              incident,
              reminder: n,
              created_at_ms: now,
            },
          });
        }
      }
    });
    const bucket = Math.floor(now / this.resendMs);
    await Promise.all(
      [...refresh].map((receiver) =>
        queueDelivery(this.publisher, {
          key: `refresh:${bucket}`,
          receiver,
          transition: 'refresh',
          incident: null,
          created_at_ms: now,
        }),
      ),
    );
    if (due.length === 0) return;
    const queued = await this.redis.hmget(alertKeys.reminded, ...due.map((d) => d.field));
    for (const [i, reminder] of due.entries()) {
      if (Number(queued[i] ?? 0) >= reminder.n) continue;
      await queueDelivery(this.publisher, reminder.delivery);
      await this.redis.hset(alertKeys.reminded, reminder.field, String(reminder.n));
    }
  }

  /** Drops the reminder records of incidents no longer open. */
  private async forget(openIds: string[]): Promise<void> {
    const open = new Set(openIds);
    const fields = await this.redis.hkeys(alertKeys.reminded);
    const gone = fields.filter((field) => !open.has(field.split('|')[0]!));
    if (gone.length > 0) await this.redis.hdel(alertKeys.reminded, ...gone);
  }
}
