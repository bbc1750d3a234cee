// The soak's memory verdict: a collector's sawtooth and bursts of held requests
// pass, a leak does not, however it hides under them.
import { expect } from 'chai';
import { GROWTH_LIMIT, judgeTrend } from './memory.ts';

const MB = 2 ** 20;
const EVERY_MS = 10_000;
const WARMUP_MS = 2 * 60_000;

/** A reading every 10 s for `minutes`, of `mbAt(minute, index)` MB. */
function series(minutes: number, mbAt: (minute: number, i: number) => number) {
  return Array.from({ length: (minutes * 60_000) / EVERY_MS + 1 }, (_, i) => ({
    atMs: i * EVERY_MS,
    bytes: mbAt((i * EVERY_MS) / 60_000, i) * MB,
  }));
}

/** A collector's sawtooth: 140 MB climbing to 200 MB over a minute, then collected. */
const sawtooth = (i: number) => 140 + (i % 6) * 12;

describe('soak memory verdict', () => {
  it('passes a steady process whose readings saw between collections', () => {
    const trend = judgeTrend(
      series(30, (_, i) => sawtooth(i)),
      WARMUP_MS,
    );
    expect(trend.ok).to.equal(true);
    expect(trend.growth).to.be.closeTo(0, 0.001);
    expect(trend.firstBytes).to.equal(140 * MB);
  });

  it('passes a steady process whose peaks grow with requests held in a late stall', () => {
    // The last ten minutes carry bursts up to 280 MB; between them it drops to its floor.
    const trend = judgeTrend(
      series(30, (m, i) => (m >= 20 && i % 6 > 1 ? 280 : sawtooth(i))),
      WARMUP_MS,
    );
    expect(trend.ok).to.equal(true);
    // The medians of every reading would have called this growth.
    expect(trend.lastMedianBytes / trend.firstMedianBytes - 1).to.be.above(GROWTH_LIMIT);
  });

  it('fails a process that leaks under its sawtooth', () => {
    // 1 MB a minute: 28 MB over the judged span, +15 % between the thirds' floors.
    const trend = judgeTrend(
      series(30, (m, i) => sawtooth(i) + m),
      WARMUP_MS,
    );
    expect(trend.ok).to.equal(false);
    expect(trend.growth).to.be.within(0.1, 0.2);
  });

  it('fails a process that grows in a step after the warm-up', () => {
    const trend = judgeTrend(
      series(30, (m, i) => sawtooth(i) + (m >= 15 ? 20 : 0)),
      WARMUP_MS,
    );
    expect(trend.ok).to.equal(false);
  });

  it('judges nothing (not ok) when the warm-up leaves no readings', () => {
    const trend = judgeTrend(
      series(2, (_, i) => sawtooth(i)),
      3 * 60_000,
    );
    expect(trend.ok).to.equal(false);
  });

  it('still judges a one-minute check run by floors shorter than a minute', () => {
    const trend = judgeTrend(
      series(1, () => 100),
      20_000,
    );
    expect(trend.ok).to.equal(true);
    expect(trend.judgedPoints).to.equal(5);
  });
});
