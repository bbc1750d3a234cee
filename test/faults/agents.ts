// Simulated agents for the fault suite: AGENTS agents in one process, each with
// the real disk spool and sender of producer/, making one sample every
// AGENT_EVERY_MS with its own id and a counter `seq`. Every sample is written to
// the agent's "created" log (the full sample, one JSON line) once it is in the
// spool, so the suite knows exactly what was created, across kill -9 and restarts.
// GET /status on STATUS_URL tells what each agent created, sent and holds;
// /status?since=<epoch ms> adds the longest time each agent went without an
// acknowledgement (a 200) since then.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createLog } from '../../deploy/runtime/log.ts';
import { Sender } from '../../producer/sender.ts';
import { Spool } from '../../producer/spool.ts';
import { decodeSample, encodeSample, type Sample } from '../../proto/sample.ts';

const log = createLog('agents', { level: 'warn' });

/** The agents process's settings (only read when it runs as the agents process). */
function settings() {
  return {
    count: Number(process.env.AGENTS ?? 10),
    everyMs: Number(process.env.AGENT_EVERY_MS ?? 200),
    dir: process.env.AGENTS_DIR!,
    receivers: (process.env.RECEIVER_URL ?? '').split(',').map((u) => new URL(u.trim())),
    statusUrl: new URL(process.env.STATUS_URL!),
    /** Replay mode: deliver the samples of REPLAY_FILE again (as an old spool would), then idle. */
    replayFile: process.env.REPLAY_FILE,
  };
}
type AgentSettings = ReturnType<typeof settings>;

interface Agent {
  host: string;
  spool: Spool;
  sender: Sender;
  createdLog: string;
  next: number;
  created: number;
  /** When acknowledgements arrived (to a tick), for the last ACKS_KEPT_MS. */
  acks: number[];
  acked: number;
}

/** Acknowledgements are noticed to this precision. */
const ACK_TICK_MS = 20;
const ACKS_KEPT_MS = 15 * 60_000;

/** Notes when each agent's sender got a 200 (its sent count grew), so ack gaps can be measured. */
function watchAcks(agents: Agent[]): void {
  setInterval(() => {
    const now = Date.now();
    for (const agent of agents) {
      if (agent.sender.counters.sent === agent.acked) continue;
      agent.acked = agent.sender.counters.sent;
      agent.acks.push(now);
      while (agent.acks[0]! < now - ACKS_KEPT_MS) agent.acks.shift();
    }
  }, ACK_TICK_MS);
}

/**
 * The longest stretch after `since` in which the agent waited for a 200: between
 * two acknowledgements (the first may precede `since`), or from the last one to
 * now while samples wait in its spool.
 */
function longestAckGapMs(agent: Agent, since: number): number {
  const now = Date.now();
  let longest = 0;
  for (let i = 1; i < agent.acks.length; i++) {
    if (agent.acks[i]! > since) longest = Math.max(longest, agent.acks[i]! - agent.acks[i - 1]!);
  }
  const last = agent.acks.at(-1);
  if (last !== undefined && agent.spool.depth > 0) longest = Math.max(longest, now - last);
  return longest;
}

/** The samples an agent's created log holds. */
export function readCreated(path: string): Sample[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => decodeSample(line));
}

async function openAgent(index: number, { dir, receivers }: AgentSettings): Promise<Agent> {
  const host = `fault-agent-${index}`;
  const home = join(dir, host);
  mkdirSync(home, { recursive: true });
  const createdLog = join(home, 'created.ndjson');
  const spool = await Spool.open(join(home, 'spool'), 64 * 1024 * 1024, log);
  // Reconcile: a sample in the spool but not yet in the log (killed in between) was created all the same.
  const logged = readCreated(createdLog);
  const known = new Set(logged.map((s) => s.id));
  const pending = (await spool.peek(1_000_000)).samples;
  for (const s of pending) {
    if (!known.has(s.id)) {
      appendFileSync(createdLog, `${encodeSample(s)}\n`);
      logged.push(s);
    }
  }
  const next = logged.reduce((max, s) => Math.max(max, s.metrics.seq ?? -1), -1) + 1;
  const sender = new Sender(
    spool,
    { receivers, batchSize: 200, drainRate: 5_000, requestTimeoutMs: 15_000 },
    log,
  );
  sender.start();
  return { host, spool, sender, createdLog, next, created: logged.length, acks: [], acked: 0 };
}

async function produce(agent: Agent, everyMs: number): Promise<void> {
  const seq = agent.next++;
  const sample: Sample = {
    host: agent.host,
    id: `${agent.host}-${seq}`,
    time: Date.now(),
    interval: everyMs / 1000,
    metrics: { seq, cpu: (seq * 7) % 100 },
  };
  await agent.spool.append([sample]);
  // Synchronously after the append: the sender cannot have delivered it before this line runs.
  appendFileSync(agent.createdLog, `${encodeSample(sample)}\n`);
  agent.created++;
  agent.sender.wake();
}

async function main(): Promise<void> {
  const config = settings();
  const { count, everyMs, dir, receivers, statusUrl, replayFile } = config;
  const agents: Agent[] = [];
  if (replayFile) {
    const spool = await Spool.open(join(dir, 'replay-spool'), 64 * 1024 * 1024, log);
    await spool.append(readCreated(replayFile));
    const sender = new Sender(
      spool,
      { receivers, batchSize: 200, drainRate: 5_000, requestTimeoutMs: 15_000 },
      log,
    );
    sender.start();
    agents.push({
      host: 'replay',
      spool,
      sender,
      createdLog: replayFile,
      next: 0,
      created: 0,
      acks: [],
      acked: 0,
    });
  } else {
    for (let i = 0; i < count; i++) agents.push(await openAgent(i, config));
    // Staggered, so the agents do not all post in the same millisecond.
    agents.forEach((agent, i) => {
      setTimeout(
        () => {
          setInterval(() => {
            produce(agent, everyMs).catch((err: Error) =>
              log.error('could not create a sample', { error: err.message }),
            );
          }, everyMs);
        },
        (i * everyMs) / agents.length,
      );
    });
  }
  watchAcks(agents);
  createServer((req, res) => {
    const since = new URL(req.url ?? '/', statusUrl).searchParams.get('since');
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        agents: agents.map((a) => ({
          host: a.host,
          created: a.created,
          sent: a.sender.counters.sent,
          rejected: a.sender.counters.rejected,
          retries: a.sender.counters.retries,
          spooled: a.spool.depth,
          ...(since === null ? {} : { longest_ack_gap_ms: longestAckGapMs(a, Number(since)) }),
        })),
      }),
    );
  }).listen(Number(statusUrl.port), statusUrl.hostname);
  const stop = () => {
    void Promise.all(agents.map((a) => a.sender.stop())).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.env.AGENTS_DIR) {
  main().catch((err: Error) => {
    log.error('agents failed', { error: err.message });
    process.exit(1);
  });
}
