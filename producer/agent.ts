// The agent assembled: sources -> (every INTERVAL) one sample per host -> disk
// spool -> sender. main.ts wires it to the process; tests build the same.
import type { Log } from '../proto/log.ts';
import { SampleIds } from '../proto/sample.ts';
import { collectSamples } from './collect.ts';
import type { ProducerConfig } from './config.ts';
import { runOnSchedule, type Schedule } from './schedule.ts';
import { Sender } from './sender.ts';
import { NvidiaSource } from './sources/nvidia.ts';
import type { Source } from './sources/source.ts';
import { SystemSource } from './sources/system.ts';
import { Spool } from './spool.ts';

export interface RunningAgent {
  spool: Spool;
  sender: Sender;
  schedule: Schedule;
  /** Stops collecting, gives the sender `flushMs` to deliver what waits, and closes. */
  stop(flushMs?: number): Promise<void>;
}

export async function localSources(config: ProducerConfig, log: Log): Promise<Source[]> {
  const sources: Source[] = [new SystemSource(config.host)];
  const gpu = await NvidiaSource.detect(config.host, log, config.nvidiaSmi);
  if (gpu) sources.push(gpu);
  return sources;
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
    },
    log.child('sender'),
  );
  sender.start();
  const ids = new SampleIds();
  const intervalMs = Math.round(config.intervalSeconds * 1000);
  let lastTime = 0;
  const schedule = runOnSchedule(
    intervalMs,
    async () => {
      // The sample's own time: when its collection began, strictly increasing per run.
      const time = Math.max(Date.now(), lastTime + 1);
      lastTime = time;
      const samples = await collectSamples(
        sources,
        config.sourceTimeoutMs,
        time,
        config.intervalSeconds,
        ids,
        log,
      );
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
  return {
    spool,
    sender,
    schedule,
    async stop(flushMs = 3_000) {
      await schedule.stop();
      const empty = await sender.flush(flushMs);
      await sender.stop();
      for (const source of sources) source.close?.();
      if (!empty)
        log.info('samples left in the spool for the next start', { samples: spool.depth });
    },
  };
}
