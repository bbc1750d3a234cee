// The agent assembled: sources (this machine, remote ones on their own
// intervals) -> (every INTERVAL) one sample per host -> disk spool -> sender.
// main.ts wires it to the process; tests build the same.
import type { Log } from '../deploy/runtime/log.ts';
import { Trust } from '../deploy/runtime/trust.ts';
import { SampleIds } from '../proto/sample.ts';
import { Collector, pollInterval } from './collect.ts';
import type { ProducerConfig } from './config.ts';
import { runOnSchedule, type Schedule } from './schedule.ts';
import { Sender } from './sender.ts';
import { createRemoteSource } from './sources/file.ts';
import { NvidiaSource, nvidiaDriverLoaded } from './sources/nvidia.ts';
import type { Source } from './sources/source.ts';
import { SystemSource } from './sources/system.ts';
import { Spool } from './spool.ts';

export interface RunningAgent {
  spool: Spool;
  sender: Sender;
  schedule: Schedule;
  /** Failed polls per source name since start (down, slow, garbage, a bad host). */
  sourceFailures(): Record<string, number>;
  /** Stops collecting, gives the sender `flushMs` to deliver what waits, and closes. */
  stop(flushMs?: number): Promise<void>;
}

export async function localSources(config: ProducerConfig, log: Log): Promise<Source[]> {
  const sources: Source[] = [await SystemSource.start(config.host, { log: log.child('system') })];
  // NVIDIA_SMI set: the operator says there is one. Unset: asked only when the driver is loaded.
  const gpu =
    config.nvidiaSmi !== undefined || nvidiaDriverLoaded()
      ? await NvidiaSource.detect(config.host, log.child('nvidia'), {
          command: config.nvidiaSmi ?? 'nvidia-smi',
          intervalSeconds: config.intervalSeconds,
        })
      : null;
  if (gpu) sources.push(gpu);
  return sources;
}

/** Every source the configuration asks for: this machine's (unless LOCAL_SOURCE=false), then the file's. */
export async function configuredSources(config: ProducerConfig, log: Log): Promise<Source[]> {
  const local = config.localSource ? await localSources(config, log) : [];
  const remote = config.sources.map((settings) =>
    createRemoteSource(settings, log.child('source')),
  );
  return [...local, ...remote];
}

export async function startAgent(
  config: ProducerConfig,
  sources: Source[],
  log: Log,
): Promise<RunningAgent> {
  const spool = await Spool.open(config.spool.dir, config.spool.maxBytes, log.child('spool'));
  const sender = new Sender(
    spool,
    {
      receivers: config.receivers,
      batchSize: config.batchSize,
      drainRate: config.drainRate,
      requestTimeoutMs: 15_000,
      token: config.token,
      trust: config.trust && new Trust(config.trust, (problem) => log.warn(problem)),
    },
    log.child('sender'),
  );
  sender.start();
  const collector = new Collector(
    sources,
    { intervalSeconds: config.intervalSeconds, timeoutMs: config.sourceTimeoutMs },
    new SampleIds(),
    log,
  );
  const intervalMs = Math.round(config.intervalSeconds * 1000);
  // Answers are waited for until shortly before the next tick; later ones go
  // into the next sample, so a slow source never makes the schedule skip ticks.
  const waitMs = Math.round(intervalMs * 0.8);
  let lastTime = 0;
  const schedule = runOnSchedule(
    intervalMs,
    async (tick) => {
      // The sample's own time: when its collection began, strictly increasing per run.
      const time = Math.max(Date.now(), lastTime + 1);
      lastTime = time;
      const samples = await collector.collect(tick, time, tick + waitMs);
      await spool.append(samples);
      sender.wake();
    },
    log,
  );
  log.info('collecting', {
    host: config.host,
    interval_s: config.intervalSeconds,
    sources: sources.map((s) => s.name).join(','),
    receiver: config.receivers.map((u) => u.href).join(','),
    spool: config.spool.dir,
  });
  for (const source of sources) {
    if (source.intervalSeconds === undefined && source.timeoutMs === undefined) continue;
    log.info('polling source', {
      source: source.name,
      every_s: pollInterval(source, config.intervalSeconds),
      timeout_s: (source.timeoutMs ?? config.sourceTimeoutMs) / 1000,
    });
  }
  return {
    spool,
    sender,
    schedule,
    sourceFailures: () => collector.failures.snapshot(),
    async stop(flushMs = 3_000) {
      await schedule.stop();
      collector.stop();
      const empty = await sender.flush(flushMs);
      await sender.stop();
      for (const source of sources) source.close?.();
      if (!empty)
        log.info('samples left in the spool for the next start', { samples: spool.depth });
    },
  };
}
