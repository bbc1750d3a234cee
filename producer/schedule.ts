// A drift-free schedule: ticks fall on multiples of the interval (aligned to the
// clock, so hosts sample at the same instants), and a run that overruns skips
// the ticks it missed instead of overlapping itself or bunching up.
import type { Log } from '../deploy/runtime/log.ts';

export interface Schedule {
  /** Resolves when the run in progress (if any) has finished. */
  stop(): Promise<void>;
  /** Ticks skipped because a run was still going. */
  skipped(): number;
}

export function nextTick(now: number, intervalMs: number): number {
  return (Math.floor(now / intervalMs) + 1) * intervalMs;
}

export function runOnSchedule(
  intervalMs: number,
  task: (tick: number) => Promise<void>,
  log: Log,
): Schedule {
  let stopped = false;
  let skipped = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let wake: () => void = () => {};

  const loop = async () => {
    let tick = nextTick(Date.now(), intervalMs);
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.max(0, tick - Date.now()));
      });
      if (stopped) break;
      running = task(tick).catch((err: Error) =>
        log.error('scheduled run failed', { error: err.message }),
      );
      await running;
      // Timers may fire a little early: never run the same tick twice.
      const next = Math.max(nextTick(Date.now(), intervalMs), tick + intervalMs);
      const missed = Math.round((next - tick) / intervalMs) - 1;
      if (missed > 0) {
        skipped += missed;
        log.warn('collection overran its interval; ticks skipped', { skipped: missed });
      }
      tick = next;
    }
  };
  const looping = loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake();
      await looping;
      await running;
    },
    skipped: () => skipped,
  };
}
