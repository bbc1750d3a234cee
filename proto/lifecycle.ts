// How every service stops: on SIGINT or SIGTERM it runs its drain steps once
// (stop taking work, finish what is in flight, flush) and exits 0. A second
// signal, or a drain that hangs, exits at once with status 1.
import type { Log } from './log.ts';

export function onShutdown(log: Log, drain: () => Promise<void>, timeoutMs = 15_000): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`second ${signal}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: draining`);
    const timer = setTimeout(() => {
      log.error(`drain took longer than ${timeoutMs} ms: exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    drain().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err: Error) => {
        log.error('drain failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Logs a failure to start and exits 1 (config errors exit 2 earlier, in readConfig). */
export function exitOnStartFailure(log: Log): (err: unknown) => never {
  return (err) => {
    log.error('could not start', { error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  };
}
