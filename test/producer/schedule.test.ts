import { expect } from 'chai';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { nextTick, runOnSchedule } from '../../producer/schedule.ts';
import { eventually } from '../harness/eventually.ts';

describe('collection schedule', () => {
  it('places ticks on multiples of the interval', () => {
    expect(nextTick(1_000, 500)).to.equal(1_500);
    expect(nextTick(1_499, 500)).to.equal(1_500);
    expect(nextTick(1_500, 500)).to.equal(2_000);
  });

  it('runs on interval boundaries without drifting', async () => {
    const ticks: number[] = [];
    const schedule = runOnSchedule(
      40,
      async (tick) => {
        ticks.push(tick);
      },
      createMemoryLog(),
    );
    await eventually(() => expect(ticks.length).to.be.at.least(8), { timeoutMs: 5_000 });
    await schedule.stop();
    for (const tick of ticks) expect(tick % 40).to.equal(0);
    // Consecutive ticks are one interval apart unless a tick was skipped: never closer.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).to.be.at.least(40);
  });

  it('never overlaps itself: a slow run skips the ticks it missed and says so', async () => {
    let running = 0;
    let maxRunning = 0;
    const ticks: number[] = [];
    const log = createMemoryLog();
    const schedule = runOnSchedule(
      20,
      async (tick) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        ticks.push(tick);
        await new Promise((r) => setTimeout(r, 50));
        running--;
      },
      log,
    );
    await eventually(() => expect(ticks.length).to.be.at.least(4), { timeoutMs: 5_000 });
    await schedule.stop();
    expect(maxRunning).to.equal(1);
    expect(schedule.skipped()).to.be.greaterThan(0);
    expect(log.lines.join('')).to.include('ticks skipped');
    for (const tick of ticks) expect(tick % 20).to.equal(0);
  });

  it('stop() waits for the run in progress', async () => {
    let finished = false;
    let started = false;
    const schedule = runOnSchedule(
      10,
      async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 100));
        finished = true;
      },
      createMemoryLog(),
    );
    await eventually(() => expect(started).to.equal(true));
    await schedule.stop();
    expect(finished).to.equal(true);
  });
});
