// NATS names every service must agree on: the samples stream, its subjects, the
// durable consumer of the store, and how a host becomes a subject token.
import { HOST_NAME, SAMPLE_ID } from './sample.ts';

/** The JetStream stream that records every accepted sample: the pipeline's log. */
export const SAMPLES_STREAM = 'LOADSTAR_SAMPLES';
export const SAMPLES_SUBJECTS = 'metrics.samples.>';
/** The durable consumer that the storage consumers share to fold samples into Redis. */
export const STORE_CONSUMER = 'loadstar-store';

/**
 * A host as one subject token. Subject tokens cannot hold '.', so dots become
 * '_'; two hosts may then share a subject (a.b and a_b), which is harmless
 * because the message body always carries the real host.
 */
export function hostToken(host: string): string {
  return host.replaceAll('.', '_');
}

export function sampleSubject(host: string): string {
  return `metrics.samples.${hostToken(host)}`;
}

/** JetStream's Nats-Msg-Id for a sample: its identity, so a retried publish is stored once. */
export function sampleMsgId(host: string, id: string): string {
  return `${host}/${id}`;
}

/** Host and id back from a Nats-Msg-Id, or null when it is not one of ours. */
export function sampleIdentity(msgId: string): { host: string; id: string } | null {
  const slash = msgId.lastIndexOf('/');
  if (slash <= 0) return null;
  const host = msgId.slice(0, slash);
  const id = msgId.slice(slash + 1);
  return HOST_NAME.test(host) && SAMPLE_ID.test(id) ? { host, id } : null;
}
