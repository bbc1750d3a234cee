// What the agent costs the machine it watches, beside what node_exporter costs
// it, in one run: the one-file agent (built fresh, run as its systemd unit runs
// it) posting to the bench's receiver at each INTERVAL, and Debian's
// prometheus-node-exporter scraped every 5 s during the INTERVAL=5 window. CPU
// counts child processes too; programs started are counted under `strace -f`.
// Read-only towards the machine; stops what it started, by PID.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentNodeFlags, childPids } from '../harness/processes.ts';
import { freePort } from '../harness/servers.ts';
import { median } from './percentile.ts';
import { cpuSecondsWithChildren, rssBytes } from './proc-stat.ts';
import { type Child, type Processes, REPO, TSX } from './processes.ts';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** How often node_exporter is scraped: a Prometheus scrape interval as tight as the agent's default INTERVAL. */
const SCRAPE_MS = 5_000;

export interface Usage {
  /** CPU time (its children's included) over wall time in the window, percent of one core. */
  cpuPercent: number;
  rssMedianBytes: number;
  rssMaxBytes: number;
}

export interface AgentFigures extends Usage {
  intervalSeconds: number;
  windowMs: number;
  /** Samples of its host the gateway counts at the end: proof it was really delivering. */
  samplesStored: number;
}

export interface ExporterFigures extends Usage {
  /** Scrapes answered 200 during the window. */
  scrapes: number;
}

export interface ProgramsFigures {
  /** Collections during the traced run (samples of its host stored). */
  collections: number;
  /** execve calls of the agent and its descendants, node's own start excluded. */
  programs: number;
  /** Programs by name, for the note. */
  names: Record<string, number>;
  windowMs: number;
}

export interface FootprintFigures {
  agents: AgentFigures[];
  /** Measured during the INTERVAL=5 window; null with the reason in `notes`. */
  exporter: ExporterFigures | null;
  programs: ProgramsFigures | null;
  notes: string[];
}

interface Timing {
  warmupMs: number;
  windowMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function has(program: string): boolean {
  return spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Builds the one-file agent as `npm run build:agent` does, into a temporary directory. */
function buildAgent(processes: Processes): string {
  const dir = processes.tempDir('agent');
  const built = spawnSync(
    process.execPath,
    ['--import', TSX, join(REPO, 'deploy/agent/build.ts'), '--outdir', dir],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(`npm run build:agent failed:\n${built.stderr}`);
  return join(dir, 'loadstar-agent.js');
}

export async function measureFootprint(
  processes: Processes,
  urls: { receiverUrl: string; gatewayUrl: string },
  intervals: readonly number[],
  timing: Timing,
  step: (message: string) => void,
): Promise<FootprintFigures> {
  const agentFile = buildAgent(processes);
  const notes: string[] = [];
  const agents: AgentFigures[] = [];
  let exporter: ExporterFigures | null = null;
  const exporterInstalled = has(NODE_EXPORTER);
  if (!exporterInstalled)
    notes.push(
      `${NODE_EXPORTER} is not installed (apt-get install prometheus-node-exporter): no side-by-side figures`,
    );
  for (const interval of intervals) {
    const beside = interval === 5 && exporterInstalled;
    step(
      `agent: INTERVAL=${interval}${beside ? ', node_exporter beside it scraped every 5 s' : ''}, ${timing.windowMs} ms after ${timing.warmupMs} ms warm-up`,
    );
    const figures = await measureSideBySide(processes, urls, agentFile, interval, timing, beside);
    agents.push(figures.agent);
    if (figures.exporter) exporter = figures.exporter;
  }
  let programs: ProgramsFigures | null = null;
  if (has('strace')) {
    const traceMs = Math.max(10_000, Math.round(timing.windowMs * 0.5));
    step(`agent: programs it starts, INTERVAL=1 under strace -f -e trace=execve for ${traceMs} ms`);
    programs = await countPrograms(processes, urls, agentFile, traceMs);
  } else {
    notes.push('strace is not installed (apt-get install strace): programs started not counted');
  }
  return { agents, exporter, programs, notes };
}

function startAgent(
  processes: Processes,
  receiverUrl: string,
  agentFile: string,
  interval: number,
  host: string,
  tracedTo?: string,
): Child {
  const settings = {
    RECEIVER_URL: receiverUrl,
    INTERVAL: String(interval),
    SPOOL_DIR: processes.tempDir('spool'),
    HOST: host,
  };
  const name = `agent ${interval}s${tracedTo ? ' (strace)' : ''}`;
  // CPU_PROF_DIR=dir: a V8 CPU profile, as every Node process of the bench writes.
  const profile = process.env.CPU_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.CPU_PROF_DIR, name.replace(/\W+/g, '-'))}`]
    : [];
  const node = [process.execPath, ...agentNodeFlags(), ...profile, agentFile];
  if (!tracedTo)
    return processes.startProgram(`agent ${interval}s`, node[0]!, node.slice(1), settings);
  return processes.startProgram(
    `agent ${interval}s (strace)`,
    'strace',
    ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', '-o', tracedTo, '--', ...node],
    settings,
  );
}

async function measureSideBySide(
  processes: Processes,
  urls: { receiverUrl: string; gatewayUrl: string },
  agentFile: string,
  interval: number,
  timing: Timing,
  withExporter: boolean,
): Promise<{ agent: AgentFigures; exporter: ExporterFigures | null }> {
  const host = `bench-agent-${interval}s`;
  const agent = startAgent(processes, urls.receiverUrl, agentFile, interval, host);
  let exporter: Child | undefined;
  let scraping: Scraper | undefined;
  try {
    if (withExporter) {
      const port = await freePort();
      exporter = processes.startProgram(
        'node_exporter',
        NODE_EXPORTER,
        [`--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        {},
      );
      scraping = new Scraper(`http://127.0.0.1:${port}/metrics`);
    }
    const running = [agent, ...(exporter ? [exporter] : [])];
    await sleep(timing.warmupMs);
    alive(running);
    const before = running.map((c) => cpuSecondsWithChildren(c.pid));
    const scrapesBefore = scraping?.answered ?? 0;
    const started = performance.now();
    const rss = running.map(() => [] as number[]);
    for (let s = 0; s < Math.ceil(timing.windowMs / 1000); s++) {
      await sleep(Math.max(0, started + (s + 1) * 1000 - performance.now()));
      alive(running);
      running.forEach((c, i) => {
        rss[i]!.push(rssBytes(c.pid));
      });
    }
    const windowMs = performance.now() - started;
    const usage = running.map(
      (c, i): Usage => ({
        cpuPercent: ((cpuSecondsWithChildren(c.pid) - before[i]!) / (windowMs / 1000)) * 100,
        rssMedianBytes: median(rss[i]!),
        rssMaxBytes: Math.max(...rss[i]!),
      }),
    );
    return {
      agent: {
        ...usage[0]!,
        intervalSeconds: interval,
        windowMs,
        samplesStored: await storedSamples(urls.gatewayUrl, host),
      },
      exporter:
        exporter && scraping ? { ...usage[1]!, scrapes: scraping.answered - scrapesBefore } : null,
    };
  } finally {
    scraping?.stop();
    await Promise.all([processes.stop(agent), exporter && processes.stop(exporter)]);
  }
}

/** Runs the agent under strace -f and counts the programs it (and anything it starts) executes. */
async function countPrograms(
  processes: Processes,
  urls: { receiverUrl: string; gatewayUrl: string },
  agentFile: string,
  windowMs: number,
): Promise<ProgramsFigures> {
  const host = 'bench-agent-traced';
  const trace = join(processes.tempDir('strace'), 'execve.txt');
  const strace = startAgent(processes, urls.receiverUrl, agentFile, 1, host, trace);
  const started = performance.now();
  await sleep(windowMs);
  alive([strace]);
  // The agent first, so it ends (drains) as it would under systemd; strace follows it out.
  for (const pid of await childPids(strace.pid)) process.kill(pid, 'SIGTERM');
  await processes.stop(strace);
  const elapsed = performance.now() - started;
  const execs = readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => /execve\(/.test(line) && / = 0$/.test(line));
  // The first is strace starting node itself: without it, nothing was traced at all.
  if (execs.length === 0)
    throw new Error(`strace recorded no execve, not even node's own start (${trace})`);
  const programs = execs.slice(1);
  const names: Record<string, number> = {};
  for (const line of programs) {
    const name = /execve\("([^"]*)"/.exec(line)?.[1]?.split('/').pop() ?? '?';
    names[name] = (names[name] ?? 0) + 1;
  }
  return {
    collections: await storedSamples(urls.gatewayUrl, host),
    programs: programs.length,
    names,
    windowMs: elapsed,
  };
}

/** Scrapes node_exporter every SCRAPE_MS, as Prometheus would, and counts the answers. */
class Scraper {
  answered = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly url: string) {
    void this.scrape();
    this.timer = setInterval(() => void this.scrape(), SCRAPE_MS);
  }

  private async scrape(): Promise<void> {
    try {
      const res = await fetch(this.url, { signal: AbortSignal.timeout(SCRAPE_MS) });
      await res.text();
      if (res.status === 200) this.answered++;
    } catch {
      // counted as not answered
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function alive(children: readonly Child[]): void {
  for (const child of children) {
    if (child.process.exitCode !== null || child.process.signalCode !== null)
      throw new Error(`${child.name} exited during the bench:\n${child.tail()}`);
  }
}

async function storedSamples(gatewayUrl: string, host: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}api/v1/hosts`);
  const body = (await res.json()) as { hosts?: { host: string; samples: number }[] };
  return body.hosts?.find((h) => h.host === host)?.samples ?? 0;
}
