// Debian's Prometheus tools as peers of the pipeline: promtool run to its end
// (without blocking this process, which serves the gateway it talks to), and a
// prometheus server on a free loopback port with a temporary storage dir of its
// own, stopped by PID.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { freePort, removeDir } from './servers.ts';

export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';

/** Why the Prometheus peers cannot run here, or null when they can. */
export function missingPrometheusTools(): string | null {
  for (const binary of [PROMTOOL, PROMETHEUS])
    if (!existsSync(binary)) return `${binary} is missing (apt-get install prometheus)`;
  return null;
}

export interface ToolRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool with `args` (and `stdin`), at most a minute. */
export function promtool(args: string[], stdin?: string): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

export interface RunningPrometheus {
  url: URL;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts prometheus with the config `config(port)` builds; resolves once /-/ready answers 200. */
export async function startPrometheus(
  config: (port: number) => string,
): Promise<RunningPrometheus> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-prometheus-'));
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, config(port));
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = new URL(`http://127.0.0.1:${port}/`);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    removeDir(dir);
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
        const res = await fetch(new URL('-/ready', url));
        if (res.status !== 200) throw new Error(`prometheus not ready: ${res.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, output: () => output, stop };
}
