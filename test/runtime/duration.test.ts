import { expect } from 'chai';
import { DURATION_FORMS, parseDuration, Settings } from '../../deploy/runtime/config.ts';

describe('durations', () => {
  it('reads plain seconds, as text or as a number, fractions included', () => {
    expect(parseDuration('30')).to.equal(30_000);
    expect(parseDuration(30)).to.equal(30_000);
    expect(parseDuration('0.5')).to.equal(500);
    expect(parseDuration(0.25)).to.equal(250);
  });

  it('reads every unit, with or without a space before it', () => {
    expect(
      ['250ms', '30s', '15m', '24h', '7d', '1.5h', ' 5 m ', '0.5ms'].map(parseDuration),
    ).to.deep.equal([250, 30_000, 900_000, 86_400_000, 604_800_000, 5_400_000, 300_000, 0.5]);
  });

  it('takes zero in every form', () => {
    expect(['0', '0s', '0ms', '0d'].map(parseDuration)).to.deep.equal([0, 0, 0, 0]);
    expect(parseDuration(0)).to.equal(0);
  });

  it('refuses unknown units, other words, negatives and empty text', () => {
    for (const text of ['3 weeks', '5w', '10 sec', '1M', '1h30m', 'soon', '', '.5s', '5.s', '1e3'])
      expect(parseDuration(text), text).to.equal(undefined);
    expect(parseDuration('-5s')).to.equal(undefined);
    expect(parseDuration(-1)).to.equal(undefined);
  });

  it('refuses what is not text or a number', () => {
    for (const value of [null, undefined, true, ['5s'], { s: 5 }])
      expect(parseDuration(value)).to.equal(undefined);
  });

  it('refuses a duration longer than a timer can count, and non-finite numbers', () => {
    expect(parseDuration(`1${'0'.repeat(400)}`)).to.equal(undefined);
    expect(parseDuration('200000000000d')).to.equal(undefined);
    expect(parseDuration(Number.POSITIVE_INFINITY)).to.equal(undefined);
    expect(parseDuration(Number.NaN)).to.equal(undefined);
    expect(parseDuration('100000d')).to.equal(8_640_000_000_000);
  });

  it('is the syntax of settings, and their refusal names the forms allowed', () => {
    const s = new Settings({ A: '90', B: '1.5 h', C: '5w' });
    expect(s.duration('A', '1s')).to.equal(90_000);
    expect(s.duration('B', '1s')).to.equal(5_400_000);
    expect(() => s.duration('C', '1s')).to.throw(
      `C: '5w' is not a duration: write ${DURATION_FORMS}`,
    );
  });
});
