// The simulated agents process: N hosts, each making a sample every
// hosts/rate seconds and posting it as the real agent does: one at a time
// while it is current, a batch (POST …/batch) of what it holds once it is
// behind. Reads Redis after some 200s to time visibility. Exits with its parent.
import { Agent, request } from 'node:http';
import { Redis } from 'ioredis';
import { keys } from '../../proto/keys.ts';
import { LagRecorder, SlotCounts, type Slots, slotOf } from './lags.ts';
import type { AgentsMessage, AgentsResult, AgentsSpec, CoordinatorMessage } from './protocol.ts';
import { hostName } from './protocol.ts';

const TICK_MS = 20;
/** As the agent (producer/agent.ts). */
const REQUEST_TIMEOUT_MS = 15_000;
/** The agent's backoff after a 5xx, a timeout or a refused connection: 0.5 s doubling to 30 s, jittered. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A host's queue is its spool: past this many samples the oldest are dropped, as the agent does. */
const QUEUE_LIMIT = 5_000;
const PROBE_POLL_MS = 20;
const PROBE_LIMIT_MS = 10_000;
/** The probes must not become a load of their own on Redis. */
const MAX_PROBES_IN_FLIGHT = 20;
const PROGRESS_MS = 10_000;
const VARIANTS = 64;

/** Twenty metrics as the agent reports them; values stay below the default incident rules (90). */
const METRICS: [name: string, low: number, high: number][] = [
  ['cpu', 5, 60],
  ['cpu.core.0', 5, 70],
  ['cpu.core.1', 5, 70],
  ['cpu.core.2', 5, 70],
  ['cpu.core.3', 5, 70],
  ['mem', 20, 70],
  ['swap', 0, 5],
  ['disk', 30, 60],
  ['disk.used.root', 30, 60],
  ['disk.used.home', 10, 50],
  ['disk.read_bytes_per_s', 0, 5e7],
  ['disk.write_bytes_per_s', 0, 5e7],
  ['net.eth0.rx_bytes_per_s', 0, 1e8],
  ['net.eth0.tx_bytes_per_s', 0, 1e8],
  ['net.rx_bytes_per_s', 0, 1e8],
  ['net.tx_bytes_per_s', 0, 1e8],
  ['load.1', 0, 4],
  ['load.5', 0, 4],
  ['load.15', 0, 4],
  ['gpu', 0, 80],
];

/** Bodies made once and cycled, so the load process spends its CPU on posting. */
const BODIES: string[] = Array.from({ length: VARIANTS }, (_, v) =>
  JSON.stringify(
    Object.fromEntries(
      METRICS.map(([name, low, high], m) => {
        const phase = ((v * 7 + m * 13) % VARIANTS) / VARIANTS;
        return [name, low + (high - low) * phase + 0.123456789];
      }),
    ),
  ),
);

interface QueuedSample {
  id: string;
  time: number;
  variant: number;
}

interface Host {
  name: string;
  queue: QueuedSample[];
  next: number;
  made: number;
  inFlight: boolean;
  retryAt: number;
  backoffMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function tell(message: AgentsMessage): void {
  process.send?.(message);
}

function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(body);
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': data.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            retryAfter: res.headers['retry-after'],
          }),
        );
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(data);
  });
}

async function runAgents(spec: AgentsSpec): Promise<AgentsResult> {
  const slots: Slots = spec.slots;
  const intervalMs = (spec.hosts / spec.rate) * 1000;
  const intervalSeconds = String(intervalMs / 1000);
  const single = new URL(spec.receiverUrl);
  const batch = new URL(`${single.pathname.replace(/\/+$/, '')}/batch`, single);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.hosts });
  const redis = new Redis(spec.redisUrl, { enableAutoPipelining: true });
  const expected = Math.ceil(spec.rate * (spec.durationMs / 1000));

  const made = new SlotCounts();
  const accepted = new SlotCounts();
  const singleLatency = new LagRecorder(Math.ceil(expected * 1.2) + 1_000);
  const batchLatency = new LagRecorder(Math.ceil(expected / 2) + 1_000);
  const visibility = new LagRecorder(Math.ceil(expected / spec.probeEvery) * 2 + 1_000);
  const firstErrors: string[] = [];
  let errors = 0;
  const errorsBySlot = new SlotCounts();
  let dropped = 0;
  let singlePosts = 0;
  let batchPosts = 0;
  let batchedSamples = 0;
  let largestBatch = 0;
  let largestQueue = 0;
  let worstTickLateMs = 0;
  let notVisible = 0;
  let acceptedPosts = 0;
  let acceptedTotal = 0;
  let probesInFlight = 0;

  const fail = (message: string) => {
    errors++;
    errorsBySlot.add(slotOf(Date.now(), slots));
    if (firstErrors.length < 5 && !firstErrors.includes(message)) firstErrors.push(message);
  };

  const startAt = slots.startAt;
  const endAt = startAt + spec.durationMs;
  // Hosts join one after another over the ramp, as a fleet's agents come up (no
  // thundering herd of first posts on cold services); each then keeps its interval.
  const hosts: Host[] = Array.from({ length: spec.hosts }, (_, i) => ({
    name: hostName(i),
    queue: [],
    next: startAt + (i / spec.hosts) * Math.max(spec.rampMs, intervalMs),
    made: 0,
    inFlight: false,
    retryAt: 0,
    backoffMs: BACKOFF_FIRST_MS,
  }));

  const probe = async (host: string, time: number) => {
    probesInFlight++;
    try {
      const deadline = Date.now() + PROBE_LIMIT_MS;
      while (Date.now() < deadline) {
        const value = await redis.hget(keys.hostLatest(host), 'cpu');
        if (value && Number(value.split('|')[0]) >= time) {
          visibility.add(slotOf(time, slots), Date.now() - time);
          return;
        }
        await sleep(PROBE_POLL_MS);
      }
      notVisible++;
    } catch (err) {
      fail(`probe: ${(err as Error).message}`);
    } finally {
      probesInFlight--;
    }
  };

  const send = async (host: Host) => {
    host.inFlight = true;
    const taken = host.queue.splice(0, Math.min(host.queue.length, spec.batchMax));
    const sentAt = Date.now();
    const isBatch = taken.length > 1;
    try {
      let answer: Awaited<ReturnType<typeof post>>;
      if (isBatch) {
        batchPosts++;
        batchedSamples += taken.length;
        largestBatch = Math.max(largestBatch, taken.length);
        const items = taken.map(
          (s) =>
            `{"host":"${host.name}","id":"${s.id}","time":${s.time},"interval":${intervalSeconds},"metrics":${BODIES[s.variant]}}`,
        );
        answer = await post(
          agent,
          batch,
          { 'Loadstar-Host': host.name },
          `{"samples":[${items.join(',')}]}`,
        );
      } else {
        singlePosts++;
        const s = taken[0]!;
        answer = await post(
          agent,
          single,
          {
            'Loadstar-Host': host.name,
            'Loadstar-Sample-Id': s.id,
            'Loadstar-Time': String(s.time),
            'Loadstar-Interval': intervalSeconds,
          },
          BODIES[s.variant]!,
        );
      }
      const now = Date.now();
      if (answer.status === 200) {
        host.backoffMs = BACKOFF_FIRST_MS;
        (isBatch ? batchLatency : singleLatency).add(slotOf(sentAt, slots), now - sentAt);
        const refused = new Set<number>();
        if (isBatch) {
          const reply = JSON.parse(answer.text) as {
            rejected?: { index: number; error: string }[];
          };
          for (const r of reply.rejected ?? []) {
            refused.add(r.index);
            fail(`batch sample refused: ${r.error}`);
          }
        }
        taken.forEach((s, i) => {
          if (!refused.has(i)) accepted.add(slotOf(s.time, slots));
        });
        acceptedTotal += taken.length - refused.size;
        if (++acceptedPosts % spec.probeEvery === 0 && probesInFlight < MAX_PROBES_IN_FLIGHT) {
          void probe(host.name, taken.at(-1)!.time);
        }
      } else if (answer.status >= 400 && answer.status < 500) {
        // A 4xx is a bug on one side: the agent logs it and does not retry.
        fail(`${answer.status} ${answer.text.slice(0, 200)}`);
      } else {
        fail(`${answer.status} ${answer.text.slice(0, 200)}`);
        retryLater(host, taken, Number(answer.retryAfter) * 1000);
      }
    } catch (err) {
      fail((err as Error).message);
      retryLater(host, taken, Number.NaN);
    } finally {
      host.inFlight = false;
    }
    pump(host, Date.now());
  };

  const retryLater = (host: Host, taken: QueuedSample[], retryAfterMs: number) => {
    host.queue.unshift(...taken);
    const wait = Number.isFinite(retryAfterMs)
      ? retryAfterMs
      : host.backoffMs * (0.8 + Math.random() * 0.4);
    host.backoffMs = Math.min(host.backoffMs * 2, BACKOFF_MAX_MS);
    host.retryAt = Date.now() + wait;
  };

  const pump = (host: Host, now: number) => {
    if (!host.inFlight && host.queue.length > 0 && now >= host.retryAt) void send(host);
  };

  const queued = () => hosts.reduce((sum, h) => sum + h.queue.length, 0);
  let nextProgress = startAt + PROGRESS_MS;
  await sleep(startAt - Date.now());

  // Bounded by time (the run, then the flush) and by count (ticks).
  const maxTicks = Math.ceil((spec.durationMs + spec.flushMs) / TICK_MS) + 1_000;
  let expectedTick = Date.now();
  for (let tick = 0; tick < maxTicks; tick++) {
    const now = Date.now();
    worstTickLateMs = Math.max(worstTickLateMs, now - expectedTick);
    if (now < endAt) {
      for (const host of hosts) {
        // A late tick makes every sample that fell due since, each with its own time.
        while (host.next <= now && host.next < endAt) {
          const time = Math.round(host.next);
          host.queue.push({ id: `s${host.made}`, time, variant: host.made % VARIANTS });
          host.made++;
          made.add(slotOf(time, slots));
          host.next += intervalMs;
          if (host.queue.length > QUEUE_LIMIT) {
            host.queue.shift();
            dropped++;
          }
        }
        largestQueue = Math.max(largestQueue, host.queue.length);
        pump(host, now);
      }
    } else {
      const left = queued();
      const busy = hosts.some((h) => h.inFlight);
      if ((left === 0 && !busy) || now > endAt + spec.flushMs) break;
      for (const host of hosts) pump(host, now);
    }
    if (now >= nextProgress) {
      nextProgress += PROGRESS_MS;
      tell({ kind: 'progress', progress: { accepted: acceptedTotal, queued: queued(), errors } });
    }
    expectedTick = now + TICK_MS;
    await sleep(TICK_MS);
  }
  // Probes still polling get their own time limit to finish.
  for (let i = 0; i < PROBE_LIMIT_MS / 50 && probesInFlight > 0; i++) await sleep(50);
  agent.destroy();
  redis.disconnect();
  return {
    made: made.counts,
    accepted: accepted.counts,
    singlePosts,
    batchPosts,
    batchedSamples,
    largestBatch,
    errors,
    errorsBySlot: errorsBySlot.counts,
    firstErrors,
    dropped,
    unsent: queued(),
    largestQueue,
    worstTickLateMs,
    singleLatency: singleLatency.figures(slots.firstJudged),
    batchLatency: batchLatency.figures(slots.firstJudged),
    visibility: visibility.figures(slots.firstJudged),
    notVisible,
  };
}

process.once('message', (message: CoordinatorMessage) => {
  if (message.kind !== 'agents') return;
  runAgents(message.spec).then(
    (result) => tell({ kind: 'result', result }),
    (err: Error) => tell({ kind: 'error', error: err.stack ?? err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
