import { expect } from 'chai';
import {
  parseExposition,
  parseSampleValue,
  parseSeriesLine,
  seriesKey,
} from '../../producer/sources/prometheus-text.ts';

const labelsOf = (line: string) => {
  const series = parseSeriesLine(line);
  if (typeof series === 'string') throw new Error(series);
  return { ...series.labels };
};

describe('Prometheus text format', () => {
  it('reads HELP and TYPE, ignores other comments and blank lines, and keeps series in order', () => {
    const e = parseExposition(
      [
        '# HELP node_load1 1m load average.',
        '# TYPE node_load1 gauge',
        'node_load1 0.34',
        '',
        '   ',
        '# a comment of the exporter',
        '# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.',
        '# TYPE node_cpu_seconds_total counter',
        'node_cpu_seconds_total{cpu="0",mode="idle"} 6935.47',
        'node_cpu_seconds_total{cpu="0",mode="user"} 1297.22',
      ].join('\r\n'),
    );
    expect(e.skipped).to.equal(0);
    expect([...e.types]).to.deep.equal([
      ['node_load1', 'gauge'],
      ['node_cpu_seconds_total', 'counter'],
    ]);
    expect(e.series.map((s) => [s.name, { ...s.labels }, s.value])).to.deep.equal([
      ['node_load1', {}, 0.34],
      ['node_cpu_seconds_total', { cpu: '0', mode: 'idle' }, 6935.47],
      ['node_cpu_seconds_total', { cpu: '0', mode: 'user' }, 1297.22],
    ]);
  });

  it('reads label values with escaped quotes, backslashes and newlines, and with , } = and spaces inside', () => {
    expect(
      labelsOf(
        String.raw`node_uname_info{version="#1 SMP \"bookworm\" C:\\x",motd="a\nb",odd="x}, y=\"z\""} 1`,
      ),
    ).to.deep.equal({ version: '#1 SMP "bookworm" C:\\x', motd: 'a\nb', odd: 'x}, y="z"' });
    // Space around the parts, a trailing comma and an empty set are all allowed.
    expect(labelsOf('m { a = "1" , b="2", } 3')).to.deep.equal({ a: '1', b: '2' });
    expect(labelsOf('m{} 3')).to.deep.equal({});
    // An escape the format does not define is kept as written rather than lost.
    expect(labelsOf(String.raw`m{path="C:\temp"} 1`)).to.deep.equal({ path: String.raw`C:\temp` });
  });

  it('reads NaN, +Inf, -Inf, exponents and optional timestamps', () => {
    expect(parseSampleValue('NaN')).to.be.NaN;
    expect(parseSampleValue('+Inf')).to.equal(Number.POSITIVE_INFINITY);
    expect(parseSampleValue('-Inf')).to.equal(Number.NEGATIVE_INFINITY);
    expect(parseSampleValue('8.3870273536e+10')).to.equal(83_870_273_536);
    expect(parseSampleValue('-.5')).to.equal(-0.5);
    expect(parseSampleValue('1,5')).to.equal(null);
    expect(parseSampleValue('0x10')).to.equal(null);
    const e = parseExposition(
      'a 1 1700000000000\nb{le="+Inf"} +Inf\nc NaN -5\nd\t2\t1700000000001\n',
    );
    expect(e.skipped).to.equal(0);
    expect(e.series.map((s) => [s.name, s.value, s.timestamp])).to.deep.equal([
      ['a', 1, 1_700_000_000_000],
      ['b', Number.POSITIVE_INFINITY, undefined],
      ['c', Number.NaN, -5],
      ['d', 2, 1_700_000_000_001],
    ]);
  });

  it('skips and counts every line it cannot read, saying why, and keeps the rest', () => {
    const garbage = [
      'node_load1',
      'node_load10.5',
      '{a="1"} 2',
      'm{a="1" 2',
      'm{a="1",a="2"} 2',
      'm{a=1} 2',
      'm{1a="x"} 2',
      'm{a="unterminated} 2',
      'm one',
      'm 1 2 3',
      'm 1 soon',
      '<html><body>Not Found</body></html>',
      '# TYPE m thermometer',
      '# TYPE m',
      '# HELP',
      'ok 1',
    ];
    const e = parseExposition(['ok 1', ...garbage, 'fine{x="y"} 2'].join('\n'));
    expect(e.series.map((s) => s.name)).to.deep.equal(['ok', 'fine']);
    expect(e.skipped).to.equal(garbage.length);
    expect(e.problems).to.have.length(5);
    expect(e.problems[0]).to.equal('line 2: no value: "node_load1"');
    expect(e.problems[1]).to.equal('line 3: no space after the name: "node_load10.5"');
    expect(e.problems[2]).to.equal('line 4: no series name: "{a=\\"1\\"} 2"');
  });

  it('says why each kind of line is unreadable', () => {
    const why = (line: string) => parseSeriesLine(line);
    expect(why('m{a="1" 2')).to.equal("expected ',' or '}' after label a");
    expect(why('m{a="1",a="2"} 2')).to.equal('label a appears twice');
    expect(why('m{a=1} 2')).to.equal(`expected '"' to open the value of label a`);
    expect(why('m{a="x} 2')).to.equal('unterminated value of label a');
    expect(why('m one')).to.equal('the value is not a number');
    expect(why('m 1 soon')).to.equal('the timestamp is not whole milliseconds');
    expect(why('m 1 2 3')).to.equal('unexpected text after the timestamp');
  });

  it('names a series by its name and all its labels, whatever their order', () => {
    const a = parseSeriesLine('m{x="1",y="2"} 1');
    const b = parseSeriesLine('m{y="2",x="1"} 5');
    const c = parseSeriesLine('m{x="1",y="3"} 1');
    if (typeof a === 'string' || typeof b === 'string' || typeof c === 'string')
      throw new Error('unreadable');
    expect(seriesKey(a)).to.equal(seriesKey(b));
    expect(seriesKey(a)).to.not.equal(seriesKey(c));
  });

  it('reads the same series twice in one answer as one (the first), counting the repeat', () => {
    const e = parseExposition('m{a="1"} 1\nm{a="1"} 2\nm{a="2"} 3\n');
    expect(e.series.map((s) => s.value)).to.deep.equal([1, 3]);
    expect(e.skipped).to.equal(1);
  });
});
