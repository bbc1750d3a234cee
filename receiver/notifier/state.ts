// What the notifier asks Redis about incidents it did not just receive: which
// are open now (for reminders and Alertmanager refreshes), and whether one is
// still worth a reminder (open, unacknowledged, not silenced).

import type { RedisClient } from '../../deploy/runtime/redis.ts';
import type { AckStore } from '../../proto/ack.ts';
import { type Incident, incidentKeys } from '../../proto/incident.ts';
import { type SilenceStore, silences } from '../../proto/silence.ts';
import type { DeliveryState } from './delivery.ts';
import { type Routing, targetsOf } from './routing.ts';

export class IncidentState implements DeliveryState {
  constructor(
    private readonly redis: RedisClient,
    private readonly routing: () => Routing,
    private readonly silenceStore: SilenceStore,
    private readonly acks: AckStore,
  ) {}

  /** The open incidents, as of their last transition (the rules consumer's index). */
  async open(): Promise<Incident[]> {
    const ids = await this.redis.zrange(incidentKeys.open, '0', '-1');
    if (ids.length === 0) return [];
    const stored = await this.redis.hmget(incidentKeys.all, ...ids);
    return stored
      .filter((text): text is string => text !== null)
      .map((text) => JSON.parse(text) as Incident)
      .filter((incident) => incident.state === 'open');
  }

  async remindable(incident: Incident): Promise<Incident | null> {
    const text = await this.redis.hget(incidentKeys.all, incident.id);
    if (!text) return null;
    const current = JSON.parse(text) as Incident;
    if (current.state !== 'open') return null;
    if (await this.acks.get(current.id)) return null;
    if ((await this.silenceStore.holding(current)).length > 0) return null;
    return current;
  }

  async openFor(receiver: string): Promise<Incident[]> {
    const now = Date.now();
    const [open, held] = await Promise.all([this.open(), this.silenceStore.list()]);
    return open.filter(
      (incident) =>
        targetsOf(this.routing(), incident).some((t) => t.receiver.name === receiver) &&
        !held.some((s) => silences(s, incident, now)),
    );
  }
}
