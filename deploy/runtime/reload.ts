// Re-reads an operator's file (RULES_FILE) without a restart: on SIGHUP, and
// within a second of a change, found by polling its inode, size and times (which
// also catches an editor that writes a new file and renames it over the old).
// The caller parses; a file that cannot be read or parsed leaves what is in
// force, and the log says why, naming what is wrong.
import { stat } from 'node:fs/promises';
import type { Log } from './log.ts';
import { readStructuredFile } from './structured-file.ts';

export interface ReloadOptions<T> {
  path: string;
  /** Checks the file's content; throws an Error whose message names what is wrong. */
  parse: (source: unknown) => T;
  /** Puts a good file in force. */
  apply: (value: T) => void;
  /** What the file holds, for the log: "rules", "receivers and routes". */
  what: string;
  log: Log;
  everyMs?: number;
}

export class FileReloader<T> {
  private stamp = '';
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly onSignal = () => void this.reload('SIGHUP');

  constructor(private readonly options: ReloadOptions<T>) {}

  /** Starts watching; the file read at start is the one in force, so only a change reloads it. */
  async start(): Promise<void> {
    this.stamp = await this.stampOf();
    process.on('SIGHUP', this.onSignal);
    this.timer = setInterval(() => void this.reload(), this.options.everyMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    process.off('SIGHUP', this.onSignal);
  }

  /** Re-reads the file when it changed (or always, on SIGHUP); one reload at a time. */
  reload(signal?: 'SIGHUP'): Promise<void> {
    this.running ??= this.read(signal).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async stampOf(): Promise<string> {
    try {
      const info = await stat(this.options.path);
      return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    } catch (err) {
      return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }

  private async read(signal?: 'SIGHUP'): Promise<void> {
    const { path, what, log } = this.options;
    const stamp = await this.stampOf();
    if (stamp === this.stamp && signal === undefined) return;
    this.stamp = stamp;
    let value: T;
    try {
      value = this.options.parse(readStructuredFile(path));
    } catch (err) {
      log.error(`${path} not reloaded; the ${what} in force stay`, {
        error: (err as Error).message,
        trigger: signal ?? 'change',
      });
      return;
    }
    this.options.apply(value);
    log.info(`${what} reloaded`, { file: path, trigger: signal ?? 'change' });
  }
}
