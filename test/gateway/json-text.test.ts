// The history answers' writer: numbers printed by hand into a buffer must parse
// back to exactly the stored values, and the rows must be what the slower,
// obvious rendering gives (layout 1's gateway, or the columns one by one).
import { expect } from 'chai';
import fc from 'fast-check';
import { writeMinutes, writeRawPoints } from '../../gateway/history.ts';
import { JsonText } from '../../gateway/json-text.ts';
import { MinuteSeries, RawSeries } from '../../proto/store/codec.ts';
import { v1MarkGaps, v1RenderRawPoints } from '../proto/store/v1/layout.ts';

const written = (write: (out: JsonText) => void): string => {
  const out = new JsonText();
  write(out);
  return out.bytes().toString('utf8');
};

/** A value as the agent sends it: a short decimal, with its decimals. */
const decimal = fc
  .tuple(fc.integer({ min: -(10 ** 14), max: 10 ** 14 }), fc.integer({ min: 0, max: 15 }))
  .map(([mantissa, scale]) => ({ value: mantissa / 10 ** scale, scale }));

const double = fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => ({
  value,
  scale: -1,
}));

describe('JSON text of history answers', () => {
  it('prints whole numbers as they are', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(written((out) => out.integer(n))).to.equal(String(n));
      }),
    );
  });

  it('prints every double as a JSON float that parses back to it, -0 included', () => {
    fc.assert(
      fc.property(double, ({ value }) => {
        const text = written((out) => out.float(value));
        expect(Object.is(JSON.parse(text), value), `${value} -> ${text}`).to.equal(true);
        expect(text).to.match(/[.e]/);
      }),
    );
  });

  it('prints a decimal from its digits, parsing back to the same double', () => {
    fc.assert(
      fc.property(decimal, ({ value, scale }) => {
        const text = written((out) => out.decimal(value, scale));
        expect(Object.is(JSON.parse(text), value), `${value} (${scale}) -> ${text}`).to.equal(true);
        expect(text).to.match(/[.e]/);
      }),
    );
  });

  it('prints a value that rounds to a whole number at its scale as the double it is', () => {
    for (const value of [1.0000000000000002, -3.0000000000000004]) {
      const text = written((out) => out.decimal(value, 2));
      expect(Object.is(JSON.parse(text), value), `${value} -> ${text}`).to.equal(true);
    }
  });

  it('copies what it printed once more', () => {
    const text = written((out) => {
      const start = out.length;
      out.decimal(-12.5, 2);
      const end = out.length;
      out.comma().again(start, end);
    });
    expect(text).to.equal('-12.5,-12.5');
  });

  it('writes raw points and their gaps as layout 1’s gateway did', () => {
    const points = fc
      .array(
        fc.tuple(
          fc.integer({ min: 1, max: 30_000 }),
          fc.oneof({ weight: 4, arbitrary: decimal }, { weight: 1, arbitrary: double }),
        ),
        { maxLength: 60 },
      )
      .map((steps) => {
        let time = 1_800_000_000_000;
        return steps.map(([step, v]) => {
          time += step;
          return { time, ...v };
        });
      });
    fc.assert(
      fc.property(points, fc.integer({ min: 0, max: 40_000 }), (rows, edge) => {
        const from = (rows[0]?.time ?? 1_800_000_000_000) - edge;
        const to = (rows.at(-1)?.time ?? from) + edge;
        const series = new RawSeries();
        for (const row of rows) series.push(row.time, row.value, row.scale);
        const ours = written((out) =>
          writeRawPoints(out, series, { intervalMs: 5_000, gapMs: 10_000, from, to }),
        );
        const before = v1RenderRawPoints(
          v1MarkGaps(
            rows.map((row) => [row.time, row.value]),
            5_000,
            10_000,
            from,
            to,
          ),
        );
        expect(JSON.parse(ours)).to.deep.equal(JSON.parse(before));
      }),
    );
  });

  it('keeps the sign of a zero minimum beside a zero average', () => {
    const series = new MinuteSeries();
    series.add(1_800_000_000_000 - (1_800_000_000_000 % 60_000), 2, -1, 0, -0, 0);
    const [row] = JSON.parse(
      written((out) => writeMinutes(out, series, series.time[0]!, series.time[0]!)),
    );
    expect(Object.is(row[3], -0), JSON.stringify(row)).to.equal(true);
    expect(Object.is(row[1], 0)).to.equal(true);
  });

  it('writes every minute of the range: the stored ones from their columns, the others as nulls', () => {
    const minutes = fc.array(
      fc.tuple(
        fc.boolean(),
        fc.integer({ min: -1, max: 4 }),
        fc.array(fc.integer({ min: -100_000, max: 100_000 }), { minLength: 1, maxLength: 12 }),
      ),
      { maxLength: 90 },
    );
    fc.assert(
      fc.property(minutes, (rows) => {
        const from = 1_800_000_000_000 - (1_800_000_000_000 % 60_000) + 17;
        const to = from + rows.length * 60_000;
        const series = new MinuteSeries();
        rows.forEach(([stored, scale, mantissas], i) => {
          if (!stored) return;
          // Scale -1: a minute of doubles (thirds are no short decimals).
          const values = scale < 0 ? mantissas.map((m) => m / 3) : mantissas;
          const sum = values.reduce((a, b) => a + b, 0);
          series.add(
            from - 17 + i * 60_000,
            mantissas.length,
            scale,
            sum,
            Math.min(...values),
            Math.max(...values),
          );
        });
        const expected: unknown[] = [];
        let next = 0;
        for (let minute = from - 17; minute <= to; minute += 60_000) {
          if (next < series.length && series.time[next] === minute) {
            const p = series.point(next++);
            expected.push([minute, p.avg, p.count, p.min, p.max]);
          } else expected.push([minute, null, 0, null, null]);
        }
        const ours = JSON.parse(written((out) => writeMinutes(out, series, from, to)));
        expect(ours).to.deep.equal(expected);
      }),
    );
  });
});
