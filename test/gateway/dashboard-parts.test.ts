// The dashboard's pure parts, run in Node: the unit read from a metric's name
// and how values of it are written, the chart each metric of the agent lands
// on, the sparkline's path, the fleet's trouble order and the incidents table's
// columns.
import { expect } from 'chai';
import { everyMetric } from '../harness/fleet.ts';

// The page's own modules (plain browser JavaScript, no types): loaded as they are served.
const load = (file: string) =>
  import(new URL(`../../gateway/dashboard/${file}`, import.meta.url).href);

describe('dashboard parts', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the page's modules are untyped browser JavaScript.
  let units: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let groups: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let overview: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let incidents: any;
  before(async () => {
    [units, groups, overview, incidents] = await Promise.all([
      load('units.js'),
      load('groups.js'),
      load('overview.js'),
      load('incidents.js'),
    ]);
  });

  it('reads each metric’s unit from its name, and gives a name it does not know none', () => {
    const cases: [string, string][] = [
      ['cpu', 'percent'],
      ['cpu.core.11', 'percent'],
      ['cpu.iowait', 'percent'],
      ['mem', 'percent'],
      ['disk.used.var_lib', 'percent'],
      ['disk.sda.busy', 'percent'],
      ['gpu.1.mem', 'percent'],
      ['pressure.io.full', 'percent'],
      ['disk.read_bytes_per_s', 'bytesPerSecond'],
      ['net.eth0.tx_bytes_per_s', 'bytesPerSecond'],
      ['swap.in_bytes_per_s', 'bytesPerSecond'],
      ['disk.nvme0n1.reads_per_s', 'perSecond'],
      ['net.eth0.rx_errors_per_s', 'perSecond'],
      ['context_switches_per_s', 'perSecond'],
      ['mem.available_bytes', 'bytes'],
      ['uptime_s', 'seconds'],
      ['load.15', 'load'],
      ['procs.running', 'count'],
      ['fd.open', 'count'],
      ['X7Q2LZ0B', 'number'],
      ['temperature', 'number'],
    ];
    for (const [name, unit] of cases) expect(units.unitOf(name), name).to.equal(unit);
  });

  it('writes values with their unit, bytes with binary prefixes', () => {
    const cases: [number | null, string, string][] = [
      [12.5, 'percent', '12.5 %'],
      [100, 'percent', '100 %'],
      [1536, 'bytesPerSecond', '1.5 KiB/s'],
      [5 * 1024 ** 3, 'bytes', '5 GiB'],
      [1023, 'bytes', '1023 B'],
      [120, 'perSecond', '120 /s'],
      [18_600, 'perSecond', '18.6k /s'],
      [0.42, 'load', '0.42'],
      [7200, 'seconds', '2 h'],
      [null, 'percent', '–'],
    ];
    for (const [value, unit, text] of cases)
      expect(units.formatValue(value, unit), `${value} ${unit}`).to.equal(text);
    // Axis steps for bytes fall on powers of two of a binary prefix: 256 MiB, 1 GiB.
    const steps: number[] = units.axisSteps('bytes');
    expect(steps)
      .to.include(256 * 1024 ** 2)
      .and.include(1024 ** 3);
    expect(steps).to.not.include(500_000_000);
    expect(units.axisSteps('percent')).to.equal(undefined);
  });

  it('places every metric the agent reports in its group, one unit per chart, none under Other', () => {
    const names = Object.keys(everyMetric(Date.now()));
    const laid: {
      group: string;
      panels: {
        key: string;
        title: string;
        unit: string;
        series: { metric: string; label: string }[];
      }[];
    }[] = groups.groupMetrics(names);
    expect(laid.map((g) => g.group)).to.deep.equal([
      'CPU',
      'Memory',
      'Disk',
      'Network',
      'Load',
      'Pressure',
      'GPU',
      'System',
    ]);
    const placed = laid.flatMap((g) => g.panels.flatMap((p) => p.series.map((s) => s.metric)));
    expect([...placed].sort()).to.deep.equal([...names].sort());
    for (const panel of laid.flatMap((g) => g.panels)) {
      const unitsOf = new Set(panel.series.map((s) => units.unitOf(s.metric)));
      expect([...unitsOf], panel.title).to.deep.equal([panel.unit]);
    }
    const panel = (key: string) => laid.flatMap((g) => g.panels).find((p) => p.key === key)!;
    // Cores in number order, not text order; each device and interface on charts of its own.
    expect(panel('cpu-cores').series.map((s) => s.label)).to.deep.equal(
      Array.from({ length: 8 }, (_, i) => `core ${i}`),
    );
    expect(panel('disk-sda-io').title).to.equal('sda: throughput');
    expect(panel('net-eth0-errors').series.map((s) => s.label)).to.deep.equal([
      'drops received',
      'errors received',
    ]);
    expect(panel('disk-used').series.map((s) => s.label))
      .to.include('/')
      .and.include('var_lib');
  });

  it('gives a name it does not know a chart of its own under Other, and a family’s new member its family', () => {
    const laid = groups.groupMetrics([
      'X7Q2LZ0B',
      'temperature',
      'cpu.core.0',
      'net.eth0.collisions',
    ]);
    const byGroup = Object.fromEntries(
      laid.map((g: { group: string; panels: { title: string }[] }) => [
        g.group,
        g.panels.map((p) => p.title),
      ]),
    );
    expect(byGroup.Other).to.deep.equal(['temperature', 'X7Q2LZ0B']);
    expect(byGroup.Network).to.deep.equal(['net.eth0.collisions']);
    expect(byGroup.CPU).to.deep.equal(['CPU busy per core']);
  });

  it('draws a sparkline with a break at each minute without samples and a dot for a lone one', () => {
    const path: string = overview.sparkPath([10, 20, null, 50, null, null, 100], 60, 30);
    // Three runs: two joined points, a lone point (a tiny stroke), a lone point at the end.
    expect(path.match(/M/g)).to.have.length(3);
    expect(path.match(/L/g)).to.have.length(1);
    expect(path.match(/h0\.1/g)).to.have.length(2);
    expect(overview.sparkPath([null, null], 60, 30)).to.equal('');
  });

  it('ranks trouble: a critical incident, offline, a warning, stale, live', () => {
    const host = (state: string, severities: string[] = []) => ({
      state,
      open_incidents: severities.map((severity) => ({ severity, count: 1 })),
    });
    const ranked = [
      host('live'),
      host('stale'),
      host('live', ['warning']),
      host('offline'),
      host('live', ['critical']),
    ]
      .sort((a, b) => overview.trouble(b) - overview.trouble(a))
      .map((h) => `${h.state}:${h.open_incidents.map((i) => i.severity).join()}`);
    expect(ranked).to.deep.equal(['live:critical', 'offline:', 'live:warning', 'stale:', 'live:']);
  });

  it('writes an incident’s condition, an absent one as the silence it is, and ends each row with its state and actions', () => {
    const cell = (key: string, incident: object) =>
      incidents.INCIDENT_COLUMNS.find((c: { key: string }) => c.key === key).cell(incident, 0);
    const threshold = {
      kind: 'threshold',
      aggregate: 'avg',
      metric: 'cpu',
      op: '>',
      threshold: 90,
      window: '3 samples',
      avg: 93.456789,
    };
    expect(cell('condition', threshold)).to.equal('avg(cpu) > 90 over 3 samples');
    expect(cell('value', threshold)).to.equal('93.46');
    const absent = { kind: 'absent', metric: null, window: '25s', avg: 0 };
    expect(cell('condition', absent)).to.equal('no sample for 25s');
    expect(cell('value', absent)).to.equal('—');
    expect(incidents.INCIDENT_COLUMNS.map((c: { key: string }) => c.key)).to.deep.equal([
      'severity',
      'host',
      'rule',
      'condition',
      'since',
      'value',
      'state',
      'actions',
    ]);
  });
});
