// PromQL conformance: every construct loadstar evaluates, on a fixed set of
// series posted through the real pipeline, against results computed by hand
// (in the comments); every construct it does not evaluate answers bad_data.
// Queries name this file's hosts, so other tests' samples never show.
import { expect } from 'chai';
import { compileRegexp } from '../../gateway/promql/regexp.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { gatewayOn, receiverOn, uniqueName } from '../harness/pipeline.ts';

// biome-ignore lint/suspicious/noExplicitAny: Prometheus answers of several shapes.
type Json = any;
type Labels = Record<string, string>;
type Expected = [Labels, number][];

const MINUTE = 60_000;

/** A value as Prometheus writes it ("+Inf", "NaN", "0.5"). */
const promNumber = (text: string) =>
  text === '+Inf'
    ? Number.POSITIVE_INFINITY
    : text === '-Inf'
      ? Number.NEGATIVE_INFINITY
      : Number(text);

/** A series of a vector answer as [labels, value], sorted, for comparing with a table row. */
function vectorOf(body: Json): Expected {
  expect(body.status, JSON.stringify(body)).to.equal('success');
  expect(body.data.resultType).to.equal('vector');
  return (body.data.result as { metric: Labels; value: [number, string] }[])
    .map((s): [Labels, number] => [s.metric, promNumber(s.value[1])])
    .sort(([a], [b]) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function sorted(expected: Expected): Expected {
  return [...expected].sort(([a], [b]) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('PromQL regular expressions', () => {
  it('match in linear time, as RE2 does: a pattern that backtracks exponentially answers at once', () => {
    // A backtracking engine takes 2^60 steps here: this test would never end.
    expect(compileRegexp('(a+)+$')(`${'a'.repeat(60)}!`)).to.equal(false);
    expect(compileRegexp('(x|xx)+y')('x'.repeat(60))).to.equal(false);
  });

  it('read RE2 spellings as RE2 does', () => {
    const cases: [string, string, boolean][] = [
      ['(?i)WEB-0[1-3]', 'web-02', true],
      ['web-0[1-3]', 'WEB-02', false],
      ['a.c', 'a😀c', true], // one code point, not one UTF-16 unit
      ['a.c', 'a\nc', false],
      ['x\\-y', 'x-y', true],
      ['(?P<n>a)b', 'ab', true],
      ['web|db', 'dbx', false], // anchored at both ends
    ];
    for (const [re, value, want] of cases)
      expect(compileRegexp(re)(value), `${re} ${value}`).to.equal(want);
  });
});

describe('PromQL conformance', function () {
  this.timeout(60_000);
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  const A = uniqueName('cfa');
  const B = uniqueName('cfb');
  const both = `host=~"${A}|${B}"`;
  // E: the evaluation time, on a whole minute; 13 samples per host, 10 s apart, the last at E.
  const E = Math.floor(Date.now() / MINUTE) * MINUTE - 20 * MINUTE;
  const at = (i: number) => E - 120_000 + 10_000 * i;
  const counterA = [0, 10, 20, 30, 40, 50, 60, 70, 80, 5, 15, 25, 35];

  const post = async (samples: object[]) => {
    const res = await fetch(new URL('/data/batch', receiver.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ samples }),
    });
    const body = (await res.json()) as Json;
    expect(res.status, JSON.stringify(body)).to.equal(200);
    expect(body.rejected).to.deep.equal([]);
  };

  before(async () => {
    [receiver, gateway] = await Promise.all([receiverOn(), gatewayOn()]);
    const samples: object[] = [];
    for (let i = 0; i <= 12; i++) {
      samples.push({
        host: A,
        time: at(i),
        interval: 10,
        metrics: {
          cf_gauge: i + 1,
          cf_counter: counterA[i],
          'load.1': 2,
          'cpu.core.0': 10,
          'cpu.core.1': 30,
        },
      });
      samples.push({
        host: B,
        time: at(i),
        interval: 10,
        metrics: { cf_counter: 3 * i, 'load.1': 4, 'cpu.core.0': 20, 'cpu.core.1': 40 },
      });
    }
    await post(samples);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), gateway?.stop()]);
  });

  const query = async (
    q: string,
    time = E,
    method: 'GET' | 'POST' = 'GET',
  ): Promise<{ status: number; body: Json }> => {
    const params = new URLSearchParams({ query: q, time: String(time / 1000) });
    const url = new URL('api/v1/query', gateway.url);
    const res =
      method === 'GET'
        ? await fetch(`${url}?${params}`)
        : await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: params.toString(),
          });
    return { status: res.status, body: await res.json() };
  };

  const name = (n: string, labels: Labels) => ({ __name__: n, ...labels });

  // [query, expected vector, seconds after E (default 0)]
  const vectors: [string, () => Expected, number?][] = [
    // Selectors, matchers and the lookback.
    [`cf_gauge{host="${A}"}`, () => [[name('cf_gauge', { host: A }), 13]]],
    [`cf_gauge{host="${A}"}`, () => [[name('cf_gauge', { host: A }), 12]], -5], // the sample 10 s before E
    [
      `{__name__=~"cf_.+", host="${A}"}`,
      () => [
        [name('cf_counter', { host: A }), 35],
        [name('cf_gauge', { host: A }), 13],
      ],
    ],
    [
      `load_1{${both}}`,
      () => [
        [name('load_1', { host: A }), 2],
        [name('load_1', { host: B }), 4],
      ],
    ],
    [`load_1{${both}, host!="${A}"}`, () => [[name('load_1', { host: B }), 4]]],
    [`load_1{${both}, host!~"${B}"}`, () => [[name('load_1', { host: A }), 2]]],
    [`cpu_core{host="${A}", core="1"}`, () => [[name('cpu_core', { core: '1', host: A }), 30]]],
    [`load_1{host=~"(?i)${A.toUpperCase()}"}`, () => [[name('load_1', { host: A }), 2]]],
    [
      `cpu_core{host="${A}", core=~"\\\\d"}`,
      () => [
        [name('cpu_core', { core: '0', host: A }), 10],
        [name('cpu_core', { core: '1', host: A }), 30],
      ],
    ],
    [
      `cpu_core{host="${A}", core!~"[1-9]"}`,
      () => [[name('cpu_core', { core: '0', host: A }), 10]],
    ],
    [`cf_gauge{host="${A}"}`, () => [[name('cf_gauge', { host: A }), 13]], 300], // 5 min after the last sample: still there
    [`cf_gauge{host="${A}"}`, () => [], 301], // more than 5 min: stale, absent
    [`cf_gauge{host="${A}"} offset 1m`, () => [[name('cf_gauge', { host: A }), 7]]],
    // Functions over windows: the last minute holds values 7..13 (7 samples).
    [`avg_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 10]]],
    [`sum_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 70]]],
    [`count_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 7]]],
    [`min_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 7]]],
    [`max_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 13]]],
    [`last_over_time(cf_gauge{host="${A}"}[1m])`, () => [[{ host: A }, 13]]],
    [`last_over_time(cf_gauge{host="${A}"}[5m])`, () => [[{ host: A }, 13]], 240], // a window reaches as far back as its range
    [`avg_over_time(cf_gauge{host="${A}"}[30s] offset 1m)`, () => [[{ host: A }, 5.5]]], // 4, 5, 6, 7
    // Counters: A resets after 80 (60 70 80 5 15 25 35: 20 + 35 = 55 in the last minute).
    [`increase(cf_counter{host="${A}"}[1m])`, () => [[{ host: A }, 55]]],
    [`rate(cf_counter{host="${B}"}[1m])`, () => [[{ host: B }, 0.3]]], // 18 over 60 s
    [`increase(cf_counter{host="${B}"}[65s])`, () => [[{ host: B }, 19.5]]], // 18 over 60 s, extrapolated 5 s to the window's start
    [`rate(cf_counter{host="${B}"}[65s])`, () => [[{ host: B }, 0.3]]], // 19.5 / 65
    // 1..13 over 120 s; towards the start only as far as where it would have been 0 (10 s): 12 * 130 / 120.
    [`increase(cf_gauge{host="${A}"}[5m])`, () => [[{ host: A }, 13]]],
    // A minute later the end is 60 s past the last sample: half an interval (5 s) is added there: 12 * 135 / 120.
    [`increase(cf_gauge{host="${A}"}[5m])`, () => [[{ host: A }, 13.5]], 60],
    [
      `irate(cf_counter{${both}}[1m])`,
      () => [
        [{ host: A }, 1],
        [{ host: B }, 0.3],
      ],
    ], // 25 -> 35, 33 -> 36 in 10 s
    [`irate(cf_counter{host="${A}"}[1m])`, () => [[{ host: A }, 0.5]], -30], // 80 -> 5: a reset, so 5 in 10 s
    // Aggregations: load_1 is 2 on A and 4 on B; cpu_core 10 and 30 on A, 20 and 40 on B.
    [`sum(load_1{${both}})`, () => [[{}, 6]]],
    [`avg(load_1{${both}})`, () => [[{}, 3]]],
    [`min(load_1{${both}})`, () => [[{}, 2]]],
    [`max(load_1{${both}})`, () => [[{}, 4]]],
    [`count(load_1{${both}})`, () => [[{}, 2]]],
    [
      `sum by (host) (cpu_core{${both}})`,
      () => [
        [{ host: A }, 40],
        [{ host: B }, 60],
      ],
    ],
    [
      `sum without (core) (cpu_core{${both}})`,
      () => [
        [{ host: A }, 40],
        [{ host: B }, 60],
      ],
    ],
    [
      `sum(cpu_core{${both}}) by (core)`,
      () => [
        [{ core: '0' }, 30],
        [{ core: '1' }, 70],
      ],
    ],
    [
      `avg by (core) (cpu_core{${both}})`,
      () => [
        [{ core: '0' }, 15],
        [{ core: '1' }, 35],
      ],
    ],
    [
      `max without (host) (cpu_core{${both}})`,
      () => [
        [{ core: '0' }, 20],
        [{ core: '1' }, 40],
      ],
    ],
    [
      `min by (host) (cpu_core{${both}})`,
      () => [
        [{ host: A }, 10],
        [{ host: B }, 20],
      ],
    ],
    [
      `count by (host) (cpu_core{${both}})`,
      () => [
        [{ host: A }, 2],
        [{ host: B }, 2],
      ],
    ],
    [`topk(1, cpu_core{${both}})`, () => [[name('cpu_core', { core: '1', host: B }), 40]]],
    [
      `bottomk(2, cpu_core{${both}})`,
      () => [
        [name('cpu_core', { core: '0', host: A }), 10],
        [name('cpu_core', { core: '0', host: B }), 20],
      ],
    ],
    [
      `topk by (host) (1, cpu_core{${both}})`,
      () => [
        [name('cpu_core', { core: '1', host: A }), 30],
        [name('cpu_core', { core: '1', host: B }), 40],
      ],
    ],
    [`topk(0, cpu_core{${both}})`, () => []],
    // Arithmetic and comparison with a scalar: arithmetic drops the name, a filter keeps it.
    [`load_1{host="${A}"} * 2`, () => [[{ host: A }, 4]]],
    [`2 - load_1{host="${A}"}`, () => [[{ host: A }, 0]]],
    [`load_1{host="${A}"} / 0`, () => [[{ host: A }, Number.POSITIVE_INFINITY]]],
    [`load_1{host="${B}"} % 3`, () => [[{ host: B }, 1]]],
    [`load_1{host="${A}"} ^ 3`, () => [[{ host: A }, 8]]],
    [`-load_1{host="${A}"}`, () => [[{ host: A }, -2]]],
    [`load_1{${both}} > 3`, () => [[name('load_1', { host: B }), 4]]],
    [`3 < load_1{${both}}`, () => [[name('load_1', { host: B }), 4]]],
    [
      `load_1{${both}} > bool 3`,
      () => [
        [{ host: A }, 0],
        [{ host: B }, 1],
      ],
    ],
    [`load_1{${both}} == 2`, () => [[name('load_1', { host: A }), 2]]],
    [`load_1{${both}} != 2`, () => [[name('load_1', { host: B }), 4]]],
    [`load_1{${both}} >= 4`, () => [[name('load_1', { host: B }), 4]]],
    [`load_1{${both}} <= 2`, () => [[name('load_1', { host: A }), 2]]],
    // Between vectors: all labels but the name must match, or on() / ignoring() say which.
    [
      `cpu_core{host="${A}"} + on(core) cpu_core{host="${B}"}`,
      () => [
        [{ core: '0' }, 30],
        [{ core: '1' }, 70],
      ],
    ],
    [
      `cpu_core{host="${A}"} / ignoring(host) cpu_core{host="${B}"}`,
      () => [
        [{ core: '0' }, 0.5],
        [{ core: '1' }, 0.75],
      ],
    ],
    [`load_1{${both}} + cf_gauge{${both}}`, () => [[{ host: A }, 15]]],
    [`load_1{${both}} + cpu_core{${both}}`, () => []],
    [
      `cf_counter{${both}} > load_1{${both}}`,
      () => [
        [name('cf_counter', { host: A }), 35],
        [name('cf_counter', { host: B }), 36],
      ],
    ],
    [
      `cf_counter{${both}} < bool load_1{${both}}`,
      () => [
        [{ host: A }, 0],
        [{ host: B }, 0],
      ],
    ],
    [`load_1{${both}} and cf_gauge{${both}}`, () => [[name('load_1', { host: A }), 2]]],
    [`load_1{${both}} unless cf_gauge{${both}}`, () => [[name('load_1', { host: B }), 4]]],
    [
      `cf_gauge{${both}} or load_1{${both}}`,
      () => [
        [name('cf_gauge', { host: A }), 13],
        [name('load_1', { host: B }), 4],
      ],
    ],
    [
      `load_1{${both}} and on(host) cpu_core{host="${B}"}`,
      () => [[name('load_1', { host: B }), 4]],
    ],
    // Functions of vectors and scalars.
    [`abs(-load_1{host="${A}"})`, () => [[{ host: A }, 2]]],
    ['vector(3)', () => [[{}, 3]]],
    [`vector(scalar(load_1{host="${A}"}) * 2)`, () => [[{}, 4]]],
  ];

  for (const [q, expected, seconds = 0] of vectors) {
    it(`${q.replaceAll(A, 'A').replaceAll(B, 'B')}${seconds ? ` at E${seconds > 0 ? '+' : ''}${seconds}s` : ''}`, async () => {
      const { status, body } = await query(q, E + seconds * 1000);
      expect(status, JSON.stringify(body)).to.equal(200);
      const got = vectorOf(body);
      const want = sorted(expected());
      expect(got.map(([l]) => l)).to.deep.equal(want.map(([l]) => l));
      got.forEach(([, v], i) => {
        const w = want[i]![1];
        if (Number.isFinite(w)) expect(v, JSON.stringify(got[i]![0])).to.be.closeTo(w, 1e-12);
        else expect(v).to.equal(w);
      });
      for (const s of body.data.result) expect(s.value[0]).to.equal(E / 1000 + seconds);
    });
  }

  // Values that are not exact in binary floating point: compared to the formula.
  it('computes rate with extrapolation and counter resets as Prometheus does', async () => {
    const rate = vectorOf((await query(`rate(cf_counter{host="${A}"}[1m])`)).body);
    expect(rate[0]![1]).to.equal(55 / 60);
    const early = vectorOf((await query(`rate(cf_gauge{host="${A}"}[5m])`)).body);
    expect(early[0]![1]).to.equal((12 * (130 / 120)) / 300);
  });

  // Scalars: [query, value].
  const scalars: [string, () => number][] = [
    ['1 + 2 * 3 ^ 2', () => 19],
    ['2 ^ 3 ^ 2', () => 512],
    ['-2 ^ 2', () => -4],
    ['(1 + 2) * 3', () => 9],
    ['7 / 2', () => 3.5],
    ['5 % 3', () => 2],
    ['1 > bool 2', () => 0],
    ['2 >= bool 2', () => 1],
    ['0x10 + 1e1 + .5', () => 26.5],
    [`scalar(load_1{host="${A}"})`, () => 2],
    [`scalar(load_1{${both}})`, () => Number.NaN], // not exactly one sample
    ['time()', () => E / 1000],
  ];
  for (const [q, value] of scalars) {
    it(`${q.replaceAll(A, 'A').replaceAll(B, 'B')} is a scalar`, async () => {
      const { status, body } = await query(q);
      expect(status, JSON.stringify(body)).to.equal(200);
      expect(body.data.resultType).to.equal('scalar');
      expect(body.data.result[0]).to.equal(E / 1000);
      const got = body.data.result[1];
      expect(got).to.equal(Number.isNaN(value()) ? 'NaN' : String(value()));
    });
  }

  it('answers a range selector in an instant query with the raw points of its window', async () => {
    const { body } = await query(`cf_gauge{host="${A}"}[30s]`);
    expect(body.data.resultType).to.equal('matrix');
    expect(body.data.result).to.deep.equal([
      {
        metric: name('cf_gauge', { host: A }),
        values: [
          [(E - 30_000) / 1000, '10'],
          [(E - 20_000) / 1000, '11'],
          [(E - 10_000) / 1000, '12'],
          [E / 1000, '13'],
        ],
      },
    ]);
  });

  it('answers a string literal as a string', async () => {
    const { body } = await query('"loadstar"');
    expect(body.data).to.deep.equal({ resultType: 'string', result: [E / 1000, 'loadstar'] });
  });

  it('answers a form POST as it answers a GET', async () => {
    const q = `sum by (host) (cpu_core{${both}})`;
    const [get, post] = await Promise.all([query(q, E, 'GET'), query(q, E, 'POST')]);
    expect(post.status).to.equal(200);
    expect(vectorOf(post.body)).to.deep.equal(vectorOf(get.body));
    expect(vectorOf(post.body)).to.have.length(2);
  });

  // ---- range queries ----------------------------------------------------------

  const range = async (q: string, start: number, end: number, step: string) => {
    const params = new URLSearchParams({
      query: q,
      start: String(start / 1000),
      end: String(end / 1000),
      step,
    });
    const res = await fetch(`${new URL('api/v1/query_range', gateway.url)}?${params}`);
    return { status: res.status, body: (await res.json()) as Json };
  };
  const points = (series: Json): [number, number][] =>
    series.values.map(([t, v]: [number, string]) => [t * 1000, Number(v)]);

  it('evaluates a selector at every step', async () => {
    const { status, body } = await range(`cf_gauge{host="${A}"}`, E - 60_000, E, '30');
    expect(status, JSON.stringify(body)).to.equal(200);
    expect(body.data.resultType).to.equal('matrix');
    expect(body.data.result).to.have.length(1);
    expect(body.data.result[0].metric).to.deep.equal(name('cf_gauge', { host: A }));
    expect(points(body.data.result[0])).to.deep.equal([
      [E - 60_000, 7],
      [E - 30_000, 10],
      [E, 13],
    ]);
  });

  it('leaves a series out of the steps where it is stale', async () => {
    const { body } = await range(`cf_gauge{host="${A}"}`, E, E + 7 * MINUTE, '1m');
    // Steps of a minute read one-minute aggregates: each minute's average, at the minute's end.
    // The minute before E averages 7..12, its point is at E; the sample at E is the minute after,
    // ending at E + 1m, and stands for five more minutes (the lookback), then is stale.
    expect(points(body.data.result[0])).to.deep.equal([
      [E, 9.5],
      [E + MINUTE, 13],
      [E + 2 * MINUTE, 13],
      [E + 3 * MINUTE, 13],
      [E + 4 * MINUTE, 13],
      [E + 5 * MINUTE, 13],
      [E + 6 * MINUTE, 13],
    ]);
  });

  it('drops raw points older than the lookback between steps', async () => {
    const { body } = await range(`cf_gauge{host="${A}"}`, E, E + 360_000, '30s');
    const times = points(body.data.result[0]).map(([t]) => t - E);
    expect(times).to.deep.equal(
      [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300].map((s) => s * 1000),
    );
  });

  it('evaluates functions, aggregations and scalars at every step', async () => {
    const rate = await range(`rate(cf_counter{host="${B}"}[1m])`, E - 30_000, E, '15s');
    expect(points(rate.body.data.result[0])).to.deep.equal([
      [E - 30_000, 0.3],
      [E - 15_000, 0.3],
      [E, 0.3],
    ]);
    const sum = await range(`sum(load_1{${both}})`, E - 60_000, E, '30s');
    expect(sum.body.data.result).to.deep.equal([
      {
        metric: {},
        values: [
          [(E - 60_000) / 1000, '6'],
          [(E - 30_000) / 1000, '6'],
          [E / 1000, '6'],
        ],
      },
    ]);
    const time = await range('time() * 2', E - 20_000, E, '10s');
    expect(time.body.data.result).to.deep.equal([
      {
        metric: {},
        values: [
          [(E - 20_000) / 1000, String(((E - 20_000) / 1000) * 2)],
          [(E - 10_000) / 1000, String(((E - 10_000) / 1000) * 2)],
          [E / 1000, String((E / 1000) * 2)],
        ],
      },
    ]);
  });

  // ---- what loadstar refuses ------------------------------------------------------

  const unsupported = [
    'histogram_quantile(0.9, cf_gauge)',
    'stddev(load_1)',
    'quantile(0.5, load_1)',
    'count_values("v", load_1)',
    'group(load_1)',
    'rate(cf_counter[5m:1m])',
    'cf_gauge @ 100',
    'load_1 + on(host) group_left cpu_core',
    'load_1 atan2 load_1',
    'cf_gauge offset -1m',
    'label_replace(load_1, "a", "b", "c", "d")',
    'absent(load_1)',
    'deriv(cf_gauge[1m])',
  ];
  for (const q of unsupported) {
    it(`refuses ${q} with bad_data, never a wrong result`, async () => {
      const { status, body } = await query(q);
      expect(status).to.equal(400);
      expect(body).to.include({ status: 'error', errorType: 'bad_data' });
      expect(body.error).to.match(
        /^invalid parameter "query": 1:\d+: unsupported: .* is not evaluated by loadstar/,
      );
    });
  }

  const parseErrors: [string, string][] = [
    ['sum(load_1', '1:11: parse error: unexpected end of input in aggregation "sum"'],
    ['load_1{host="a"', '1:16: parse error: unexpected end of input in label matching'],
    [
      'rate(load_1)',
      '1:1: parse error: expected type range vector in call to function "rate", got instant vector',
    ],
    ['load_1 +', '1:9: parse error: unexpected end of input'],
    ['1 > 2', '1:3: parse error: comparisons between scalars must use BOOL modifier'],
    ['{}', '1:1: parse error: vector selector must contain at least one non-empty matcher'],
    ['foo(bar)', '1:1: parse error: unknown function with name "foo"'],
    [
      'sum(load_1[5m])',
      '1:1: parse error: expected type instant vector in aggregation expression, got range vector',
    ],
    [
      'load_1 and 1',
      '1:8: parse error: set operator "and" not allowed in binary scalar expression',
    ],
    ['load_1{host=~"("}', '1:14: parse error: invalid regular expression "("'],
    [
      'load_1{host=~"(?<=a)b"}',
      '1:14: parse error: invalid regular expression "(?<=a)b": lookarounds and backreferences are not supported (RE2 has neither)',
    ],
    [
      'load_1{host=~"\\\\pL"}',
      '1:14: parse error: invalid regular expression "\\\\pL": Unicode classes (\\p, \\P) are not supported',
    ],
    ['load_1\n  + * 2', '2:5: parse error: unexpected "*"'],
    ['', '1:1: parse error: no expression found in input'],
  ];
  for (const [q, message] of parseErrors) {
    it(`says where ${JSON.stringify(q)} goes wrong`, async () => {
      const { status, body } = await query(q);
      expect(status).to.equal(400);
      expect(body.errorType).to.equal('bad_data');
      expect(body.error).to.include(`invalid parameter "query": ${message}`);
    });
  }

  it('refuses expressions nested deeper than 200 levels with bad_data, not a stack overflow', async () => {
    for (const [q, where] of [
      [`${'('.repeat(5_000)}1${')'.repeat(5_000)}`, '1:201'],
      [`1${' + 1'.repeat(5_000)}`, '1:1'],
      [`${'sum('.repeat(3_000)}load_1${')'.repeat(3_000)}`, '1:801'],
    ] as const) {
      const { status, body } = await query(q, E, 'POST');
      expect(status, JSON.stringify(body).slice(0, 200)).to.equal(400);
      expect(body.error).to.equal(
        `invalid parameter "query": ${where}: parse error: expression nested deeper than 200 levels`,
      );
    }
    // 150 levels are fine.
    const { body } = await query(`${'('.repeat(150)}1${')'.repeat(150)}`);
    expect(body.data.result[1]).to.equal('1');
  });

  const executionErrors: [string, string][] = [
    [
      `{${both}, __name__=~"load_1|cf_counter"} * 2`,
      'vector cannot contain metrics with the same labelset',
    ],
    [
      `cpu_core{${both}} + on(host) load_1{${both}}`,
      'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
    ],
    [
      `load_1{${both}} + on(host) cpu_core{${both}}`,
      'found duplicate series for the match group {host=',
    ],
  ];
  for (const [q, message] of executionErrors) {
    it(`answers ${message.slice(0, 40)}… (422) rather than guess`, async () => {
      const { status, body } = await query(q);
      expect(status).to.equal(422);
      expect(body.errorType).to.equal('execution');
      expect(body.error).to.include(message);
    });
  }

  const apiErrors: [string, string][] = [
    [
      'api/v1/query?query=up&time=yesterday',
      'invalid parameter "time": cannot parse "yesterday" to a valid timestamp',
    ],
    [
      'api/v1/query_range?query=up&start=10&end=5&step=1',
      'invalid parameter "end": end timestamp must not be before start time',
    ],
    [
      'api/v1/query_range?query=up&start=0&end=5',
      'invalid parameter "step": cannot parse "" to a valid duration',
    ],
    [
      'api/v1/query_range?query=up&start=0&end=5&step=0',
      'zero or negative query resolution step widths are not accepted',
    ],
    [
      'api/v1/query_range?query=up&start=0&end=100000&step=1',
      'exceeded maximum resolution of 11,000 points per timeseries',
    ],
    [
      'api/v1/query_range?query=up[5m]&start=0&end=5&step=1',
      'invalid expression type "range vector" for range query',
    ],
    ['api/v1/series', 'no match[] parameter provided'],
    [
      'api/v1/series?match[]=rate(up[5m])',
      'invalid parameter "match[]": 1:1: parse error: expected a series selector',
    ],
    ['api/v1/label/a-b/values', 'invalid label name: "a-b"'],
    ['api/v1/metadata?limit=ten', 'limit must be a number'],
  ];
  for (const [path, message] of apiErrors) {
    it(`answers ${path} with bad_data`, async () => {
      const res = await fetch(new URL(path, gateway.url));
      const body = (await res.json()) as Json;
      expect(res.status).to.equal(400);
      expect(body).to.include({ status: 'error', errorType: 'bad_data' });
      expect(body.error).to.include(message);
    });
  }

  // ---- the series API ---------------------------------------------------------

  it('lists the series, label names and label values of the hosts asked for', async () => {
    const get = async (path: string) =>
      (await (await fetch(new URL(path, gateway.url))).json()) as Json;
    const series = await get(`api/v1/series?match[]=${encodeURIComponent(`{host="${B}"}`)}`);
    expect(series.data).to.deep.equal([
      name('cf_counter', { host: B }),
      name('cpu_core', { core: '0', host: B }),
      name('cpu_core', { core: '1', host: B }),
      name('load_1', { host: B }),
    ]);
    const two = await get(
      `api/v1/series?match[]=${encodeURIComponent(`cf_gauge{${both}}`)}&match[]=${encodeURIComponent(`load_1{host="${B}"}`)}`,
    );
    expect(two.data).to.have.deep.members([
      name('cf_gauge', { host: A }),
      name('load_1', { host: B }),
    ]);
    const labels = await get(`api/v1/labels?match[]=${encodeURIComponent(`{${both}}`)}`);
    expect(labels.data).to.deep.equal(['__name__', 'core', 'host']);
    const names = await get(
      `api/v1/label/__name__/values?match[]=${encodeURIComponent(`{${both}}`)}`,
    );
    expect(names.data).to.deep.equal(['cf_counter', 'cf_gauge', 'cpu_core', 'load_1']);
    const cores = await get(`api/v1/label/core/values?match[]=${encodeURIComponent(`{${both}}`)}`);
    expect(cores.data).to.deep.equal(['0', '1']);
    const hosts = await get('api/v1/label/host/values');
    expect(hosts.data).to.include.members([A, B]);
    // A start after the hosts' last samples: nothing.
    const later = await get(
      `api/v1/series?match[]=${encodeURIComponent(`{${both}}`)}&start=${(E + 1000) / 1000}`,
    );
    expect(later.data).to.deep.equal([]);
  });

  it('describes metric names (metadata) and itself (buildinfo)', async () => {
    const get = async (path: string) =>
      (await (await fetch(new URL(path, gateway.url))).json()) as Json;
    const load = await get('api/v1/metadata?metric=load_1');
    expect(load.data).to.deep.equal({
      load_1: [{ type: 'gauge', help: 'Load average over 1 minute.', unit: '' }],
    });
    const gauge = await get('api/v1/metadata?metric=cf_gauge');
    expect(gauge.data.cf_gauge[0].type).to.equal('unknown');
    const limited = await get('api/v1/metadata?limit=1');
    expect(Object.keys(limited.data)).to.have.length(1);
    const build = await get('api/v1/status/buildinfo');
    expect(build.status).to.equal('success');
    expect(build.data.version).to.match(/^2\.\d+\.\d+$/);
  });
});

// ---- the one-minute view --------------------------------------------------------

describe('PromQL over one-minute aggregates', function () {
  this.timeout(60_000);
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  /** A gateway that keeps raw history a minute only: older instants read aggregates. */
  let shortRaw: RunningGateway;
  const M = uniqueName('cfm');
  // Five whole minutes from M0, a sample every 10 s: minute k holds 10k + 0..5 (sum 60k + 15, average 10k + 2.5).
  const M0 = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;

  before(async () => {
    [receiver, gateway, shortRaw] = await Promise.all([
      receiverOn(),
      gatewayOn(),
      gatewayOn({ HISTORY_RAW_RETENTION: '1m' }),
    ]);
    const samples: object[] = [];
    for (let k = 0; k < 5; k++)
      for (let j = 0; j < 6; j++)
        samples.push({
          host: M,
          time: M0 + k * MINUTE + j * 10_000,
          interval: 10,
          metrics: { cf_minutes: 10 * k + j },
        });
    const res = await fetch(new URL('/data/batch', receiver.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ samples }),
    });
    expect(res.status).to.equal(200);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), gateway?.stop(), shortRaw?.stop()]);
  });

  const range = async (q: string, start: number, end: number, step: string, on = gateway) => {
    const params = new URLSearchParams({
      query: q,
      start: String(start / 1000),
      end: String(end / 1000),
      step,
    });
    const res = await fetch(`${new URL('api/v1/query_range', on.url)}?${params}`);
    return (await res.json()) as Json;
  };
  const values = (body: Json) =>
    body.data.result[0].values.map(([, v]: [number, string]) => Number(v));

  it('answers steps of a minute or more with each minute’s average, at the minute’s end', async () => {
    const body = await range(`cf_minutes{host="${M}"}`, M0 + MINUTE, M0 + 5 * MINUTE, '60');
    expect(values(body)).to.deep.equal([2.5, 12.5, 22.5, 32.5, 42.5]);
    expect(body.warnings).to.equal(undefined);
  });

  it('computes the window functions exactly from the minutes’ count, sum, min and max', async () => {
    // Minutes ending within the last 2 minutes: at M0+2m, minutes 0 and 1: (15 + 75) / 12.
    const avg = await range(
      `avg_over_time(cf_minutes{host="${M}"}[2m])`,
      M0 + 2 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(values(avg)).to.deep.equal([7.5, 17.5, 27.5, 37.5]);
    const count = await range(
      `count_over_time(cf_minutes{host="${M}"}[2m])`,
      M0 + 2 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(values(count)).to.deep.equal([12, 12, 12, 12]);
    const sum = await range(
      `sum_over_time(cf_minutes{host="${M}"}[2m])`,
      M0 + 2 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(values(sum)).to.deep.equal([90, 210, 330, 450]);
    const max = await range(
      `max_over_time(cf_minutes{host="${M}"}[2m])`,
      M0 + 2 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(values(max)).to.deep.equal([15, 25, 35, 45]);
    const min = await range(
      `min_over_time(cf_minutes{host="${M}"}[2m])`,
      M0 + 2 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(values(min)).to.deep.equal([0, 10, 20, 30]);
  });

  it('warns that rates over minute averages are approximations', async () => {
    const body = await range(
      `rate(cf_minutes{host="${M}"}[3m])`,
      M0 + 3 * MINUTE,
      M0 + 5 * MINUTE,
      '1m',
    );
    expect(body.status).to.equal('success');
    expect(body.warnings).to.have.length(1);
    expect(body.warnings[0]).to.include('one-minute averages');
  });

  it('reads raw samples for steps under a minute', async () => {
    const body = await range(`cf_minutes{host="${M}"}`, M0 + MINUTE, M0 + MINUTE + 30_000, '10');
    expect(values(body)).to.deep.equal([10, 11, 12, 13]);
  });

  it('reads aggregates for any query reaching back past raw retention', async () => {
    const params = new URLSearchParams({
      query: `cf_minutes{host="${M}"}`,
      time: String((M0 + 5 * MINUTE) / 1000),
    });
    const raw = (await (
      await fetch(`${new URL('api/v1/query', gateway.url)}?${params}`)
    ).json()) as Json;
    expect(Number(raw.data.result[0].value[1])).to.equal(45); // the last raw sample
    const aggregated = (await (
      await fetch(`${new URL('api/v1/query', shortRaw.url)}?${params}`)
    ).json()) as Json;
    expect(Number(aggregated.data.result[0].value[1])).to.equal(42.5); // the last minute's average
  });
});
