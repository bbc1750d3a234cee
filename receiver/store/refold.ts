// Folds a stretch of the samples stream into Redis again: how Redis is rebuilt
// from the record. Safe to run any number of times, beside the live folds: the
// fold is idempotent and a late sample never replaces a newer value.
import { DeliverPolicy } from 'nats';
import type { Log } from '../../deploy/runtime/log.ts';
import type { NatsLink } from '../../deploy/runtime/nats.ts';
import { decodeSample, InputError } from '../../proto/sample.ts';
import { SAMPLES_STREAM, SAMPLES_SUBJECTS } from '../../proto/subjects.ts';
import type { Folder } from '../fold.ts';

/** Folds in flight at once during a refold. */
const IN_FLIGHT = 512;

export interface RefoldResult {
  /** Stream positions covered: [from, to]. */
  from: number;
  to: number;
  folded: number;
  /** Samples that were in Redis already. */
  unchanged: number;
  /** Messages that are not samples, or samples older than SAMPLE_MAX_AGE. */
  skipped: number;
}

/**
 * Folds every sample from stream position `from` up to `to` (default: the last
 * position when it starts). Rejects if NATS or Redis fails; rerunning it is safe.
 */
export async function refold(
  nats: NatsLink,
  folder: Folder,
  from: number,
  log: Log,
  to?: number,
): Promise<RefoldResult> {
  const info = await nats.jsm.streams.info(SAMPLES_STREAM);
  const start = Math.max(from, info.state.first_seq);
  const end = to ?? info.state.last_seq;
  const result: RefoldResult = { from: start, to: end, folded: 0, unchanged: 0, skipped: 0 };
  if (end < start || info.state.messages === 0) return result;
  const consumer = await nats.js.consumers.get(SAMPLES_STREAM, {
    filterSubjects: SAMPLES_SUBJECTS,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
  });
  const messages = await consumer.consume({ max_messages: IN_FLIGHT, expires: 5_000 });
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  let lastReport = Date.now();
  try {
    for await (const msg of messages) {
      if (msg.seq > end || failure) break;
      let sample: ReturnType<typeof decodeSample>;
      try {
        sample = decodeSample(msg.string());
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        result.skipped++;
        if (msg.seq >= end) break;
        continue;
      }
      const folding = folder.fold(sample).then(
        (outcome) => {
          if (outcome === 'folded' || outcome === 'unrecorded') result.folded++;
          else if (outcome === 'duplicate') result.unchanged++;
          else result.skipped++;
        },
        (err: Error) => {
          failure = err;
        },
      );
      inFlight.add(folding);
      void folding.finally(() => inFlight.delete(folding));
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log.info('refolding the stream', { at: msg.seq, to: end, folded: result.folded });
      }
      if (msg.seq >= end) break;
    }
    await Promise.all(inFlight);
  } finally {
    await messages.close();
  }
  if (failure) throw failure;
  return result;
}
