// Runs a service's main.ts (or any repo script) as its own process, the way
// an operator does, and collects what it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = new URL('../..', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

export interface ServiceProcess {
  child: ChildProcess;
  /** The process's own working directory (fresh, temporary). */
  cwd: string;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
}

export interface RunOptions {
  /** Files written into the working directory first, by name (`.env`). */
  files?: Record<string, string>;
  /** This working directory instead of a fresh one (a second `npm start` beside a first). */
  cwd?: string;
  /** An IPC channel to the process, as `npm start` gives each service. */
  ipc?: boolean;
  /** Runs what `npm run build` made of `file` (dist/…/x.js) with plain node, as `npm start` does. */
  built?: boolean;
}

/** Runs `file` (relative to the repo) in a fresh working directory, with exactly `env` (plus PATH). */
export function runScript(
  file: string,
  env: Record<string, string>,
  args: string[] = [],
  options: RunOptions = {},
): ServiceProcess {
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'loadstar-proc-'));
  for (const [name, text] of Object.entries(options.files ?? {}))
    writeFileSync(join(cwd, name), text);
  const entry = options.built
    ? [join(REPO, 'dist', file.replace(/\.ts$/, '.js'))]
    : ['--import', TSX, join(REPO, file)];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd,
    env: { PATH: `${process.env.PATH}:/usr/sbin`, HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { child, cwd, output: () => output, exited };
}

/**
 * The node flags the one-file agent's systemd unit runs it with (ExecStart of
 * deploy/agent/loadstar-agent.service), so tests and the bench run it the same way.
 */
export function agentNodeFlags(): string[] {
  const unit = readFileSync(join(REPO, 'deploy/agent/loadstar-agent.service'), 'utf8');
  const exec = /^ExecStart=\/usr\/bin\/node (.*) \S+loadstar-agent\.js$/m.exec(unit);
  if (!exec)
    throw new Error(
      'deploy/agent/loadstar-agent.service: no ExecStart running node on loadstar-agent.js',
    );
  return exec[1]!.split(' ');
}

/** PIDs of the processes whose parent is `pid`. */
export async function childPids(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) pids.push(Number(entry));
  }
  return pids;
}

export async function commandLine(pid: number): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

/**
 * Whether a process still runs. A zombie (exited, not yet reaped: PID 1 in a
 * container may take its time) has stopped: only its process-table entry is left.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
