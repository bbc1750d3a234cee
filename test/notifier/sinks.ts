// Starts webhook sinks (test/notifier/sink.ts) as child processes on loopback
// ports, and reads what each one received. Stops them by PID.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../harness/eventually.ts';
import { runScript, type ServiceProcess } from '../harness/processes.ts';
import { freePort, removeDir } from '../harness/servers.ts';
import type { SinkLine } from './sink.ts';

export class Sink {
  private process?: ServiceProcess;

  constructor(
    readonly port: number,
    readonly file: string,
    private readonly mode: 'ok' | 'hang' = 'ok',
  ) {}

  static async create(dir: string, name: string, mode: 'ok' | 'hang' = 'ok'): Promise<Sink> {
    return new Sink(await freePort(), join(dir, `${name}.jsonl`), mode);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    const proc = runScript('test/notifier/sink.ts', {}, [String(this.port), this.file, this.mode]);
    this.process = proc;
    await eventually(() => {
      if (proc.child.exitCode !== null) throw new Error(`sink exited: ${proc.output()}`);
      if (!proc.output().includes('listening')) throw new Error('sink not listening yet');
    });
  }

  /** A crash, as an outage: nothing answers on the port until start() again. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
    removeDir(proc.cwd);
  }

  /** Every request received, in order. */
  lines(): SinkLine[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as SinkLine);
  }

  /** The keys received, each once (repeats dropped, as the idempotency key allows). */
  keys(): string[] {
    return this.lines()
      .filter((line) => !line.repeat)
      .map((line) => line.key);
  }
}
