// The gRPC subscribers process: N Subscribe streams on the gateway, each
// watching its own share of the hosts, timing every delivery from the sample's
// own time. A stream cut off as too slow resumes from its last position, as a
// real client would, and is counted. Runs until told to finish; exits with its parent.
import * as grpc from '@grpc/grpc-js';
import {
  createLoadstarClient,
  type LoadstarClient,
  type SampleEvent__Output,
} from '../../proto/grpc.ts';
import { LagRecorder, SlotCounts, slotOf } from './lags.ts';
import {
  type CoordinatorMessage,
  type SubscribersMessage,
  type SubscribersResult,
  type SubscribersSpec,
  WATCHED_TOPICS,
  watchedHosts,
} from './protocol.ts';

/** Resumptions allowed in all, so a stream that keeps failing cannot loop for ever. */
const MAX_RESUMES = 1_000;
/** Deliveries the recorder has room for: far above 2,000 samples/s for 10 minutes. */
const CAPACITY = 4_000_000;

function tell(message: SubscribersMessage): void {
  process.send?.(message);
}

let finish: (() => SubscribersResult) | undefined;

function subscribe(spec: SubscribersSpec): void {
  const clients: LoadstarClient[] = [];
  const calls = new Set<grpc.ClientReadableStream<SampleEvent__Output>>();
  const received = new SlotCounts();
  const delivery = new LagRecorder(CAPACITY);
  const firstErrors: string[] = [];
  let streamErrors = 0;
  const errorsBySlot = new SlotCounts();
  let resumes = 0;
  let finishing = false;

  const fail = (message: string) => {
    streamErrors++;
    errorsBySlot.add(slotOf(Date.now(), spec.slots));
    if (firstErrors.length < 5 && !firstErrors.includes(message)) firstErrors.push(message);
  };

  const open = (i: number, client: LoadstarClient, fromSeq: number) => {
    const hosts = watchedHosts(i, spec.subscribers, spec.hosts);
    const call = client.Subscribe({ hosts, topics: WATCHED_TOPICS, from_seq: fromSeq });
    calls.add(call);
    let lastSeq = fromSeq - 1;
    call.on('data', (event: SampleEvent__Output) => {
      const now = Date.now();
      const time = Number(event.time_ms);
      lastSeq = Number(event.seq);
      const slot = slotOf(time, spec.slots);
      received.add(slot);
      delivery.add(slot, now - time);
    });
    call.on('error', (err: grpc.ServiceError) => {
      calls.delete(call);
      if (finishing && err.code === grpc.status.CANCELLED) return;
      fail(`subscriber ${i}: ${grpc.status[err.code]} ${err.details}`);
      if (!finishing && err.code === grpc.status.RESOURCE_EXHAUSTED && resumes < MAX_RESUMES) {
        resumes++;
        open(i, client, lastSeq + 1);
      }
    });
    call.on('end', () => {
      if (calls.delete(call) && !finishing) fail(`subscriber ${i}: stream ended`);
    });
  };

  for (let i = 0; i < spec.subscribers; i++) {
    if (i % spec.perConnection === 0) {
      // A local subchannel pool gives each client its own connection, as separate processes have.
      clients.push(
        createLoadstarClient(spec.grpcAddress, undefined, { 'grpc.use_local_subchannel_pool': 1 }),
      );
    }
    open(i, clients.at(-1)!, 0);
  }

  finish = () => {
    finishing = true;
    for (const call of calls) call.cancel();
    for (const client of clients) client.close();
    return {
      received: received.counts,
      delivery: delivery.figures(spec.slots.firstJudged),
      streamErrors,
      errorsBySlot: errorsBySlot.counts,
      firstErrors,
      resumes,
    };
  };
}

process.on('message', (message: CoordinatorMessage) => {
  try {
    if (message.kind === 'subscribe') {
      subscribe(message.spec);
      tell({ kind: 'ready' });
    } else if (message.kind === 'finish') {
      if (!finish) throw new Error('finish before subscribe');
      tell({ kind: 'result', result: finish() });
    }
  } catch (err) {
    tell({ kind: 'error', error: (err as Error).stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
