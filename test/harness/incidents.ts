// What incident tests read and drive: the incidents a stream really holds (not
// what a core subscriber saw: a duplicate publish reaches it too), when a host's
// samples reached the stream, and a stand-in agent that posts on its interval.
import { AckPolicy, DeliverPolicy, type NatsConnection, nanos } from 'nats';
import { INCIDENTS_STREAM, type IncidentEvent, incidentSubject } from '../../proto/incident.ts';
import { SAMPLES_STREAM, sampleSubject } from '../../proto/subjects.ts';
import { postSample } from './pipeline.ts';

/** Every message a stream holds on one subject, oldest first, with when it arrived. */
async function storedOn(
  nc: NatsConnection,
  stream: string,
  subject: string,
): Promise<{ data: string; arrival: number }[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  const count = info.state.subjects?.[subject] ?? 0;
  if (count === 0) return [];
  // An ephemeral consumer with one filter subject: nats-server 2.9 has no ordered consumer
  // filters that nats.js would not send as a list (which hangs there).
  const { name } = await jsm.consumers.add(stream, {
    filter_subject: subject,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.None,
    inactive_threshold: nanos(30_000),
  });
  const out: { data: string; arrival: number }[] = [];
  try {
    const consumer = await nc.jetstream().consumers.get(stream, name);
    while (out.length < count) {
      const messages = await consumer.fetch({ max_messages: count - out.length, expires: 2_000 });
      let got = 0;
      for await (const m of messages) {
        got++;
        out.push({ data: m.string(), arrival: Math.floor(m.info.timestampNanos / 1e6) });
      }
      if (got === 0) break;
    }
  } finally {
    await jsm.consumers.delete(stream, name).catch(() => {});
  }
  return out;
}

/** The transitions the incidents stream holds for a host: deduplicated as JetStream stores them. */
export async function storedIncidentEvents(
  nc: NatsConnection,
  host: string,
): Promise<IncidentEvent[]> {
  const stored = await storedOn(nc, INCIDENTS_STREAM, incidentSubject(host));
  return stored.map((m) => JSON.parse(m.data) as IncidentEvent);
}

/** When each of a host's samples reached the samples stream (epoch ms), oldest first. */
export async function sampleArrivals(nc: NatsConnection, host: string): Promise<number[]> {
  return (await storedOn(nc, SAMPLES_STREAM, sampleSubject(host))).map((m) => m.arrival);
}

/** A stand-in agent: posts a sample now and then every `intervalSeconds`, declaring that interval. */
export function postEvery(
  receiverUrl: URL,
  host: string,
  intervalSeconds: number,
  metrics: () => Record<string, number> = () => ({ 'test.alive': 1 }),
): { stop(): Promise<void>; posted(): number } {
  let posted = 0;
  let last: Promise<unknown> = Promise.resolve();
  const post = () => {
    last = postSample(receiverUrl, metrics(), {
      'Loadstar-Host': host,
      'Loadstar-Interval': String(intervalSeconds),
    }).then((r) => {
      if (r.status === 200) posted++;
    });
  };
  post();
  const timer = setInterval(post, intervalSeconds * 1000);
  return {
    async stop() {
      clearInterval(timer);
      await last;
    },
    posted: () => posted,
  };
}
