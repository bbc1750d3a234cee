// NVIDIA GPUs: `gpu` (mean utilisation %) and `gpu.mem` (memory used %), plus
// `gpu.<i>` and `gpu.<i>.mem` per card when there are several. One nvidia-smi
// runs for the agent's lifetime (`--loop-ms`), started only when a GPU was found
// at start; its lines are read as they come and a collection takes the latest.
// Never a process per sample; never a blocked event loop. A dead one is started
// again with backoff. If the agent dies, nvidia-smi's next write fails (SIGPIPE)
// and it ends too.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Log } from '../../deploy/runtime/log.ts';
import type { Metrics } from '../../proto/sample.ts';
import type { PartialRecord, Source } from './source.ts';

const QUERY = [
  '--query-gpu=index,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];
const FIRST_RESTART_MS = 1_000;
const LAST_RESTART_MS = 60_000;

interface GpuReading {
  index: number;
  utilization: number;
  memoryUsed: number;
  memoryTotal: number;
}

/** Parses one line of `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaLine(line: string): GpuReading | null {
  const fields = line.split(',').map((f) => f.trim());
  if (fields.length !== 4) return null;
  const [index, utilization, memoryUsed, memoryTotal] = fields.map(Number) as [
    number,
    number,
    number,
    number,
  ];
  // Cards that cannot report a field print "[N/A]" or "[Not Supported]": skip that card.
  if (![index, utilization, memoryUsed, memoryTotal].every(Number.isFinite)) return null;
  return { index, utilization, memoryUsed, memoryTotal };
}

export function parseNvidiaSmi(text: string): GpuReading[] {
  return text
    .split('\n')
    .map(parseNvidiaLine)
    .filter((g) => g !== null);
}

export function gpuMetrics(gpus: GpuReading[]): Metrics {
  const metrics: Metrics = {};
  if (gpus.length === 0) return metrics;
  const twoDecimals = (value: number) => Math.round(value * 100) / 100;
  metrics.gpu = twoDecimals(gpus.reduce((sum, g) => sum + g.utilization, 0) / gpus.length);
  const total = gpus.reduce((sum, g) => sum + g.memoryTotal, 0);
  if (total > 0)
    metrics['gpu.mem'] = twoDecimals(
      (gpus.reduce((sum, g) => sum + g.memoryUsed, 0) / total) * 100,
    );
  if (gpus.length > 1) {
    for (const g of gpus) {
      metrics[`gpu.${g.index}`] = g.utilization;
      if (g.memoryTotal > 0)
        metrics[`gpu.${g.index}.mem`] = twoDecimals((g.memoryUsed / g.memoryTotal) * 100);
    }
  }
  return metrics;
}

export interface NvidiaSettings {
  /** nvidia-smi's path (NVIDIA_SMI). */
  command: string;
  /** The agent's INTERVAL: nvidia-smi prints a reading this often. */
  intervalSeconds: number;
}

export class NvidiaSource implements Source {
  readonly name = 'nvidia';
  private readonly loopMs: number;
  /** The latest reading of each card, and when it came (ms). */
  private readonly latest = new Map<number, { gpu: GpuReading; at: number }>();
  private child?: ChildProcess;
  private restartMs = FIRST_RESTART_MS;
  private restartTimer?: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly host: string,
    private readonly settings: NvidiaSettings,
    private readonly log: Log,
  ) {
    this.loopMs = Math.max(100, Math.round(settings.intervalSeconds * 1000));
  }

  /**
   * The source, its nvidia-smi started, when one run of nvidia-smi finds at least
   * one GPU (checked once, at start); otherwise null.
   */
  static async detect(
    host: string,
    log: Log,
    settings: NvidiaSettings,
  ): Promise<NvidiaSource | null> {
    let gpus: GpuReading[];
    try {
      gpus = parseNvidiaSmi(await runOnce(settings.command));
    } catch {
      log.debug('no NVIDIA GPU (nvidia-smi not found or failing)');
      return null;
    }
    if (gpus.length === 0) return null;
    log.info('NVIDIA GPU found: reporting gpu and gpu.mem', { gpus: gpus.length });
    const source = new NvidiaSource(host, settings, log);
    await source.start();
    return source;
  }

  /** The PID of the running nvidia-smi, if one runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  private async start(): Promise<void> {
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    if (this.closed) return;
    const child = spawn(this.settings.command, [...QUERY, `--loop-ms=${this.loopMs}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const startedAt = Date.now();
    let lastError = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const gpu = parseNvidiaLine(line);
      if (gpu) this.latest.set(gpu.index, { gpu, at: Date.now() });
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lastError = line;
    });
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      if (this.closed) return;
      // A run that lasted a while was healthy: the next failure starts the backoff afresh.
      if (Date.now() - startedAt > LAST_RESTART_MS) this.restartMs = FIRST_RESTART_MS;
      this.log.warn('nvidia-smi stopped; starting it again', {
        reason,
        error: lastError || undefined,
        in_s: this.restartMs / 1000,
      });
      this.restartTimer = setTimeout(() => void this.start(), this.restartMs);
      this.restartMs = Math.min(this.restartMs * 2, LAST_RESTART_MS);
    };
    child.once('error', (err) => end(err.message));
    child.once('exit', (code, signal) => end(signal ? `signal ${signal}` : `exit status ${code}`));
  }

  async collect(): Promise<PartialRecord[]> {
    // Readings older than a few loops are from a stalled or dead nvidia-smi: report nothing, not old figures.
    const oldest = Date.now() - (3 * this.loopMs + 1_000);
    const gpus = [...this.latest.values()]
      .filter((r) => r.at >= oldest)
      .map((r) => r.gpu)
      .sort((a, b) => a.index - b.index);
    return [{ host: this.host, metrics: gpuMetrics(gpus) }];
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.child?.kill();
  }
}

/**
 * Whether NVIDIA's kernel driver is loaded: without it nvidia-smi can find no
 * GPU, so the agent starts no process to ask (nor loads the code to start one).
 */
export function nvidiaDriverLoaded(root = ''): boolean {
  return existsSync(`${root}/proc/driver/nvidia/version`) || existsSync(`${root}/dev/nvidiactl`);
}

async function runOnce(command: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(command, QUERY, { timeout: 5_000, maxBuffer: 64 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}
