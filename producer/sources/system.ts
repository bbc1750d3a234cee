// This machine's load. On Linux every collector of system/ reads /proc and /sys
// directly: no program is ever started to collect. Elsewhere systeminformation
// answers (system/fallback.ts, loaded only there: it would cost memory here).
// A collector that fails leaves its metrics out; the others still report.
import type { Log } from '../../deploy/runtime/log.ts';
import type { Metrics } from '../../proto/sample.ts';
import type { PartialRecord, Source } from './source.ts';
import { Reading, type SystemCollector } from './system/collector.ts';
import { CpuCollector } from './system/cpu.ts';
import { DiskstatsCollector } from './system/diskstats.ts';
import { FilefdCollector } from './system/filefd.ts';
import { FilesystemCollector } from './system/filesystem.ts';
import { LoadavgCollector } from './system/loadavg.ts';
import { MemoryCollector } from './system/memory.ts';
import { NetdevCollector } from './system/netdev.ts';
import { PressureCollector } from './system/pressure.ts';
import { StatCollector } from './system/stat.ts';
import { UptimeCollector } from './system/uptime.ts';
import { pageSize, VmstatCollector } from './system/vmstat.ts';

/**
 * Every Linux collector by name, in the order its metrics appear. Adding one
 * is a file in system/ and a line here; nothing else changes.
 */
export const COLLECTORS: Readonly<Record<string, (root: string) => SystemCollector>> = {
  cpu: () => new CpuCollector(),
  memory: () => new MemoryCollector(),
  vmstat: (root) => new VmstatCollector(pageSize(root)),
  filesystem: () => new FilesystemCollector(),
  diskstats: () => new DiskstatsCollector(),
  netdev: () => new NetdevCollector(),
  loadavg: () => new LoadavgCollector(),
  pressure: () => new PressureCollector(),
  stat: () => new StatCollector(),
  filefd: () => new FilefdCollector(),
  uptime: () => new UptimeCollector(),
};

export interface SystemSourceOptions {
  /** `linux` reads /proc and /sys; any other platform uses systeminformation. Default: this one. */
  platform?: NodeJS.Platform;
  /** Prefix of every /proc and /sys path: tests point it at a fixture tree. */
  root?: string;
  /** Monotonic seconds, for rates: tests pass their own clock. */
  clock?: () => number;
  log?: Log;
}

export class SystemSource implements Source {
  readonly name = 'system';
  private readonly collectors: [string, SystemCollector][];
  private readonly root: string;
  private readonly clock: () => number;
  private readonly linux: boolean;
  private readonly log?: Log;
  /** Collectors failing now, with the error last logged: one line when it starts, one when it ends. */
  private readonly failing = new Map<string, string>();

  constructor(
    private readonly host: string,
    options: SystemSourceOptions = {},
  ) {
    this.linux = (options.platform ?? process.platform) === 'linux';
    this.root = options.root ?? '';
    this.clock = options.clock ?? (() => performance.now() / 1000);
    this.log = options.log;
    this.collectors = this.linux
      ? Object.entries(COLLECTORS).map(([name, create]) => [name, create(this.root)])
      : [];
  }

  /**
   * The source, after one collection that sets the baseline of every rate and
   * cpu share: the agent's first sample then has them too.
   */
  static async start(host: string, options: SystemSourceOptions = {}): Promise<SystemSource> {
    const source = new SystemSource(host, options);
    await source.collect();
    return source;
  }

  async collect(): Promise<PartialRecord[]> {
    if (!this.linux) {
      const { collectFallback } = await import('./system/fallback.ts').catch((err: Error) => {
        // The one-file agent leaves systeminformation out: it is for Linux hosts.
        throw new Error(
          `on ${process.platform} the agent needs systeminformation (npm install systeminformation beside the agent, or run it from the repository): ${err.message}`,
        );
      });
      return [{ host: this.host, metrics: await collectFallback() }];
    }
    const reading = new Reading(this.root, this.clock());
    const metrics: Metrics = {};
    const waiting: Promise<void>[] = [];
    for (const [name, collector] of this.collectors) {
      try {
        const updating = collector.update(reading, metrics);
        if (updating)
          waiting.push(
            updating.then(
              () => this.succeeded(name),
              (err: Error) => this.failed(name, err),
            ),
          );
        else this.succeeded(name);
      } catch (err) {
        this.failed(name, err as Error);
      }
    }
    await Promise.all(waiting);
    return [{ host: this.host, metrics }];
  }

  private failed(collector: string, err: Error): void {
    if (this.failing.get(collector) === err.message) return;
    this.failing.set(collector, err.message);
    this.log?.warn('collector failed; its metrics are left out', {
      collector,
      error: err.message,
    });
  }

  private succeeded(collector: string): void {
    if (this.failing.delete(collector)) this.log?.info('collector works again', { collector });
  }
}
