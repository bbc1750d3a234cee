// How every service stops: on SIGINT or SIGTERM, or when the supervisor that
// started it (`npm start`) is gone however it died, it runs its drain steps
// once (stop taking work, finish what is in flight, flush) and exits 0. A
// second signal, or a drain that hangs, exits at once with status 1.
import type { Log } from './log.ts';

/** The running service's stop, once it is up; before that, there is nothing to drain. */
let stopService: ((reason: string) => void) | undefined;

/**
 * Under `npm start` the supervisor holds an IPC channel to each service, and the
 * kernel closes it when the supervisor dies, kill -9 included: the service then
 * stops as on SIGTERM (exiting at once if it was still starting). Without a
 * channel (systemd, a terminal) nothing changes.
 */
export function followSupervisor(): void {
  const channel = process.channel;
  if (!channel) return;
  // The channel is a watch, not work: it alone never keeps the process running.
  channel.unref();
  // With the supervisor gone its end of our stdout and stderr is too: lines written
  // then have no reader, and EPIPE (then a destroyed stream) must not end the drain.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    });
  }
  process.once('disconnect', () => {
    if (stopService) stopService('the supervisor is gone');
    else process.exit(1);
  });
}

export function onShutdown(log: Log, drain: () => Promise<void>, timeoutMs = 15_000): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) {
      // The supervisor's channel closes as it exits after stopping us: not a second request.
      if (reason.startsWith('SIG')) {
        log.warn(`second ${reason}: exiting now`);
        process.exit(1);
      }
      return;
    }
    stopping = true;
    log.info(`${reason}: draining`);
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
  stopService = stop;
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
