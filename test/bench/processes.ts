// Starts every process the bench needs (nats-server, redis-server, the loadstar
// services, its own helpers) and stops exactly those, by PID, whatever happens.
// Children run in an empty temporary directory so no .env of the repo is read.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

/** Resolved once, so children find tsx although their cwd is outside the repo. */
export const TSX = import.meta.resolve('tsx');
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Lines of a child's stderr echoed before the rest is only counted, so a flood cannot hide the figures. */
const ECHOED_LINES = 20;
const STOP_GRACE_MS = 5_000;

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last lines the child wrote on stderr, for an error message. */
  tail(): string;
}

export class Processes {
  private readonly children: Child[] = [];
  private readonly servers: ServerProcess[] = [];
  private readonly dirs: string[] = [];
  private stopping?: Promise<void>;
  /** The children's working directory: empty, so no service reads a .env. */
  readonly workDir: string;

  constructor() {
    this.workDir = this.tempDir('work');
  }

  tempDir(purpose: string): string {
    const dir = mkdtempSync(join(tmpdir(), `loadstar-bench-${purpose}-`));
    this.dirs.push(dir);
    return dir;
  }

  async startServers(): Promise<{ nats: ServerProcess; redis: ServerProcess }> {
    const [nats, redis] = await Promise.allSettled([startNats(), startRedis()]);
    for (const started of [nats, redis]) {
      if (started.status === 'fulfilled') this.servers.push(started.value);
    }
    if (nats.status === 'rejected') throw nats.reason;
    if (redis.status === 'rejected') throw redis.reason;
    return { nats: nats.value, redis: redis.value };
  }

  /** One more redis-server of the bench's own (the storage part weighs each layout in its own). */
  async startRedis(): Promise<ServerProcess> {
    const redis = await startRedis();
    this.servers.push(redis);
    return redis;
  }

  /**
   * Runs a repo file as `node --import tsx <file>`, or with `built` what `npm run
   * build` made of it (dist/…/x.js, plain node, as `npm start` runs a service),
   * with only the settings given (plus PATH, HOME and TMPDIR), so the caller's
   * shell cannot change what is measured.
   */
  startNode(
    name: string,
    file: string,
    settings: Record<string, string>,
    { ipc = false, built = false } = {},
  ): Child {
    // CPU_PROF_DIR=dir: every Node process writes V8 CPU profiles (one per thread) to dir/<name>/ when it exits.
    const profile = process.env.CPU_PROF_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.CPU_PROF_DIR, name)}`]
      : [];
    const entry = built
      ? [join(REPO, 'dist', file.replace(/\.ts$/, '.js'))]
      : ['--import', TSX, join(REPO, file)];
    return this.startProgram(name, process.execPath, [...profile, ...entry], settings, { ipc });
  }

  /** Builds the services (`npm run build`) so that they run as `npm start` runs them. */
  buildServices(): void {
    const build = spawnSync(process.execPath, ['--import', TSX, join(REPO, 'deploy/build.ts')], {
      cwd: REPO,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stderr}`);
  }

  /** Runs any program with only the settings given (plus PATH, HOME and TMPDIR), in the empty work dir. */
  startProgram(
    name: string,
    command: string,
    args: readonly string[],
    settings: Record<string, string>,
    { ipc = false } = {},
  ): Child {
    const env: Record<string, string> = { LOG_LEVEL: 'warn', ...settings };
    for (const inherited of ['PATH', 'HOME', 'TMPDIR']) {
      const value = process.env[inherited];
      if (value !== undefined) env[inherited] = value;
    }
    const child = spawn(command, args, {
      cwd: this.workDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const lines: string[] = [];
    let echoed = 0;
    const keep = (line: string) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      if (echoed < ECHOED_LINES) process.stderr.write(`  [${name}] ${line}\n`);
      else if (echoed === ECHOED_LINES)
        process.stderr.write(`  [${name}] (more lines not shown)\n`);
      echoed++;
    };
    createInterface({ input: child.stderr! }).on('line', keep);
    createInterface({ input: child.stdout! }).on('line', keep);
    const started: Child = { name, pid: child.pid, process: child, tail: () => lines.join('\n') };
    this.children.push(started);
    return started;
  }

  /** Stops one child (SIGTERM, SIGKILL after a grace period) and forgets it. */
  async stop(child: Child): Promise<void> {
    const index = this.children.indexOf(child);
    if (index >= 0) this.children.splice(index, 1);
    await stopProcess(child.process);
  }

  /**
   * Waits up to `ms` for every child to exit by itself: after Ctrl-C the terminal
   * has signalled them all already, and a second signal would cut their drain short.
   */
  async exited(ms: number): Promise<void> {
    const running = this.children.filter(
      (c) => c.process.exitCode === null && c.process.signalCode === null,
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((c) => new Promise((resolve) => c.process.once('exit', resolve)))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops every child, then the servers they use; removes the temporary dirs. Safe to call twice. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.children.splice(0).map((c) => stopProcess(c.process)));
      const servers = this.servers.splice(0);
      await Promise.all(servers.map((s) => s.stop()));
      for (const dir of [...this.dirs.splice(0), ...servers.map((s) => s.dir)]) removeDir(dir);
    })();
    return this.stopping;
  }

  /**
   * Ctrl-C or SIGTERM stops every child and exits 130 (a second signal kills them
   * at once); any exit kills what is left. Returns whether a signal came.
   */
  stopOnSignals(who: string, say: (message: string) => void): () => boolean {
    let interrupted = false;
    const interrupt = (signal: NodeJS.Signals) => {
      if (interrupted) {
        this.killAllNow();
        process.exit(130);
      }
      interrupted = true;
      say(`${signal}: stopping every process ${who} started`);
      void this.exited(3_000)
        .then(() => this.stopAll())
        .finally(() => process.exit(130));
    };
    process.on('SIGINT', interrupt);
    process.on('SIGTERM', interrupt);
    process.on('exit', () => this.killAllNow());
    return () => interrupted;
  }

  /** Last resort when the bench itself exits: SIGKILL by PID, synchronously. */
  killAllNow(): void {
    const processes = [
      ...this.children.map((c) => c.process),
      ...this.servers.map((s) => s.process),
    ];
    for (const child of processes) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Polls `url` until it answers 200; fails early, with the child's last words, when the child exits. */
export async function waitReady(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before it was ready:\n${child.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} not ready at ${url} within ${timeoutMs} ms (${last})`);
}
