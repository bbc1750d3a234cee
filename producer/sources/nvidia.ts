// NVIDIA GPUs through nvidia-smi: `gpu` (mean utilisation %) and `gpu.mem`
// (memory used %), plus `gpu.<i>` and `gpu.<i>.mem` per card when there are
// several. nvidia-smi runs asynchronously: it must never block the event loop.
import { execFile } from 'node:child_process';
import type { Log } from '../../proto/log.ts';
import type { Metrics } from '../../proto/sample.ts';
import type { PartialRecord, Source } from './source.ts';

const QUERY = [
  '--query-gpu=index,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];

interface GpuReading {
  index: number;
  utilization: number;
  memoryUsed: number;
  memoryTotal: number;
}

/** Parses `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuReading[] {
  const gpus: GpuReading[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 4) continue;
    const [index, utilization, memoryUsed, memoryTotal] = fields.map(Number) as [
      number,
      number,
      number,
      number,
    ];
    // Cards that cannot report a field print "[N/A]" or "[Not Supported]": skip that card.
    if ([index, utilization, memoryUsed, memoryTotal].every(Number.isFinite)) {
      gpus.push({ index, utilization, memoryUsed, memoryTotal });
    }
  }
  return gpus;
}

export function gpuMetrics(gpus: GpuReading[]): Metrics {
  const metrics: Metrics = {};
  if (gpus.length === 0) return metrics;
  metrics.gpu = gpus.reduce((sum, g) => sum + g.utilization, 0) / gpus.length;
  const total = gpus.reduce((sum, g) => sum + g.memoryTotal, 0);
  if (total > 0)
    metrics['gpu.mem'] = (gpus.reduce((sum, g) => sum + g.memoryUsed, 0) / total) * 100;
  if (gpus.length > 1) {
    for (const g of gpus) {
      metrics[`gpu.${g.index}`] = g.utilization;
      if (g.memoryTotal > 0) metrics[`gpu.${g.index}.mem`] = (g.memoryUsed / g.memoryTotal) * 100;
    }
  }
  return metrics;
}

function runNvidiaSmi(command: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, QUERY, { signal, timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

export class NvidiaSource implements Source {
  readonly name = 'nvidia';

  private constructor(
    private readonly host: string,
    private readonly command: string,
  ) {}

  /** The source when nvidia-smi answers with at least one GPU, otherwise null (checked once, at start). */
  static async detect(
    host: string,
    log: Log,
    command = 'nvidia-smi',
  ): Promise<NvidiaSource | null> {
    try {
      const gpus = parseNvidiaSmi(await runNvidiaSmi(command, AbortSignal.timeout(5_000), 5_000));
      if (gpus.length === 0) return null;
      log.info('NVIDIA GPU found: reporting gpu and gpu.mem', { gpus: gpus.length });
      return new NvidiaSource(host, command);
    } catch {
      log.debug('no NVIDIA GPU (nvidia-smi not found or failing)');
      return null;
    }
  }

  async collect(signal: AbortSignal): Promise<PartialRecord[]> {
    const gpus = parseNvidiaSmi(await runNvidiaSmi(this.command, signal, 10_000));
    return [{ host: this.host, metrics: gpuMetrics(gpus) }];
  }
}
