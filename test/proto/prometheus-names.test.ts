// The mapping between loadstar metric names and Prometheus series: the README's
// table row by row, and both directions undoing each other for any name or
// series (fast-check), so no two names ever read as one series.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  type Label,
  loadstarMetric,
  type PromSeries,
  promSeries,
  UnmappableSeries,
} from '../../proto/prometheus-names.ts';
import { METRIC_NAME } from '../../proto/sample.ts';

const series = (name: string, labels: Label[] = []): PromSeries => ({ name, labels });

describe('Prometheus names', () => {
  // The README's table ("Prometheus names"), one row each.
  const table: [string, PromSeries][] = [
    ['cpu', series('cpu')],
    ['mem', series('mem')],
    ['load.1', series('load_1')],
    ['load.15', series('load_15')],
    ['cpu.core.3', series('cpu_core', [['core', '3']])],
    ['disk.used.var_lib', series('disk_used', [['mount', 'var_lib']])],
    ['disk.read_bytes_per_s', series('disk_read_bytes_per_second')],
    ['net.rx_bytes_per_s', series('net_rx_bytes_per_second')],
    ['net.eth0.rx_bytes_per_s', series('net_rx_bytes_per_second', [['iface', 'eth0']])],
    ['net.eth0.100.tx_bytes_per_s', series('net_tx_bytes_per_second', [['iface', 'eth0.100']])],
    ['gpu.mem', series('gpu_mem')],
    ['gpu.1', series('gpu', [['card', '1']])],
    ['gpu.1.mem', series('gpu_mem', [['card', '1']])],
    ['X7Q2LZ0B', series('X7Q2LZ0B')],
    [
      'node_cpu_seconds_total.cpu-0.mode-idle',
      series('node_cpu_seconds_total', [
        ['cpu', '0'],
        ['mode', 'idle'],
      ]),
    ],
    [
      'node_filesystem_avail_bytes.mountpoint-:2Fvar:2Flib',
      series('node_filesystem_avail_bytes', [['mountpoint', '/var/lib']]),
    ],
    ['api-gw.latency', series('api_gw_latency', [['loadstar_metric', 'api-gw.latency']])],
    ['load_1', series('load_1', [['loadstar_metric', 'load_1']])],
    ['cpu_core.core-3', series('cpu_core_core_3', [['loadstar_metric', 'cpu_core.core-3']])],
    ['9lives', series('_9lives', [['loadstar_metric', '9lives']])],
  ];

  for (const [metric, expected] of table) {
    it(`reads ${metric} as ${expected.name}${JSON.stringify(Object.fromEntries(expected.labels))} and back`, () => {
      expect(promSeries(metric)).to.deep.equal(expected);
      expect(loadstarMetric(expected)).to.equal(metric);
    });
  }

  it('takes labels in any order and leaves out empty ones, as Prometheus does', () => {
    expect(
      loadstarMetric(
        series('node_cpu_seconds_total', [
          ['mode', 'idle'],
          ['zone', ''],
          ['cpu', '0'],
        ]),
      ),
    ).to.equal('node_cpu_seconds_total.cpu-0.mode-idle');
  });

  it('refuses series it cannot name, saying why', () => {
    const refusals: [PromSeries, string][] = [
      [series('up', [['__meta_x', 'y']]), 'reserved'],
      [series('up', [['loadstar_metric', 'cpu']]), 'loadstar_metric is loadstar'],
      [series('up', [['job', 'x'.repeat(200)]]), 'the limit is 128'],
      [series('9up'), 'not a Prometheus name'],
      [
        series('up', [
          ['a', '1'],
          ['a', '2'],
        ]),
        'appears twice',
      ],
    ];
    for (const [s, words] of refusals) {
      expect(() => loadstarMetric(s), JSON.stringify(s)).to.throw(UnmappableSeries, words);
    }
  });

  // Free text, and names built from the pieces the rules look for (families, `label-value` parts, escapes).
  const piece = fc.constantFrom(
    'cpu',
    'core',
    'net',
    'eth0',
    'rx_bytes_per_s',
    'tx_bytes_per_s',
    'load',
    '1',
    '15',
    'gpu',
    'mem',
    'disk',
    'used',
    'a-b',
    'mode-idle',
    'x-:2F',
    ':2',
    'loadstar_metric-cpu',
    'load_1',
    '-',
    '',
    'Z9',
  );
  const loadstarName = fc
    .oneof(
      fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/),
      fc.array(piece, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    )
    .filter((name) => METRIC_NAME.test(name));

  it('reads any loadstar name back from its series (fast-check)', () => {
    fc.assert(
      fc.property(loadstarName, (metric) => {
        const s = promSeries(metric);
        expect(s.name).to.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
        for (const [n] of s.labels) expect(n).to.match(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
        expect(loadstarMetric(s)).to.equal(metric);
      }),
      { numRuns: 5000, seed: 1717 },
    );
  });

  it('gives two different names two different series (fast-check)', () => {
    fc.assert(
      fc.property(loadstarName, loadstarName, (a, b) => {
        fc.pre(a !== b);
        expect(JSON.stringify(promSeries(a))).not.to.equal(JSON.stringify(promSeries(b)));
      }),
      { numRuns: 5000, seed: 1718 },
    );
  });

  it('names any written series so that the name reads back as that series (fast-check)', () => {
    const labelName = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((n) => n !== 'host');
    const written = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/),
      labels: fc.uniqueArray(
        fc.tuple(labelName, fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' })),
        {
          maxLength: 3,
          selector: ([n]) => n,
        },
      ),
    });
    let named = 0;
    fc.assert(
      fc.property(written, (s) => {
        const sorted = { name: s.name, labels: [...s.labels].sort(([a], [b]) => (a < b ? -1 : 1)) };
        let metric: string;
        try {
          metric = loadstarMetric(sorted);
        } catch (err) {
          // Only for a name too long for loadstar.
          expect((err as Error).message).to.include('the limit is 128');
          return;
        }
        named++;
        expect(metric).to.match(METRIC_NAME);
        expect(promSeries(metric)).to.deep.equal(sorted);
      }),
      { numRuns: 5000, seed: 1719 },
    );
    expect(named).to.be.above(2500);
  });
});
