// NATS names every service must agree on: the samples stream, its subjects, the
// durable consumer of the store, and how a host becomes a subject token.

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
