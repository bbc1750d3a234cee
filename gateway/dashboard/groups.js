// Which chart a metric goes on: the host page groups whatever a host reports the
// way operators read it (CPU, memory, disk, network, load, pressure, GPU), by
// name patterns, never by a fixed list, so new metrics of the agent find their
// place. One chart holds metrics of one unit; a name nothing here knows gets a
// chart of its own under "Other".
import { unitOf } from './units.js';

/** The groups, in the order the page shows them. */
export const GROUPS = [
  'CPU',
  'Memory',
  'Disk',
  'Network',
  'Load',
  'Pressure',
  'GPU',
  'System',
  'Other',
];

const RX_TX = { rx: 'received', tx: 'sent' };
const mountLabel = (token) => (token === 'root' ? '/' : token);

/**
 * Rules tried in order; the first whose pattern matches places the metric.
 * `panel` names the chart (metrics of one chart share it), `label` the line.
 * @type {{ pattern: RegExp, group: string, panel: (m: RegExpExecArray) => string, title: (m: RegExpExecArray) => string, label: (m: RegExpExecArray) => string }[]}
 */
const RULES = [
  // CPU: the total, its split by state, each core.
  {
    pattern: /^cpu$/,
    group: 'CPU',
    panel: () => 'cpu',
    title: () => 'CPU busy, all cores',
    label: () => 'busy',
  },
  {
    pattern: /^cpu\.core\.(\d+)$/,
    group: 'CPU',
    panel: () => 'cpu-cores',
    title: () => 'CPU busy per core',
    label: (m) => `core ${m[1]}`,
  },
  {
    pattern: /^cpu\.([A-Za-z0-9_]+)$/,
    group: 'CPU',
    panel: () => 'cpu-states',
    title: () => 'CPU time by state',
    label: (m) => m[1],
  },
  {
    pattern: /^(context_switches|interrupts)_per_s$/,
    group: 'CPU',
    panel: () => 'cpu-activity',
    title: () => 'Context switches and interrupts',
    label: (m) => m[1].replace('_', ' '),
  },
  // Memory and swap: used %, the parts in bytes, swap traffic, faults.
  {
    pattern: /^(mem|swap)$/,
    group: 'Memory',
    panel: () => 'mem-used',
    title: () => 'Memory and swap used',
    label: (m) => (m[1] === 'mem' ? 'memory' : 'swap'),
  },
  {
    pattern: /^mem\.([A-Za-z0-9_]+)_bytes$/,
    group: 'Memory',
    panel: () => 'mem-bytes',
    title: () => 'Memory',
    label: (m) => m[1].replace(/_/g, ' '),
  },
  {
    pattern: /^swap\.(in|out)_bytes_per_s$/,
    group: 'Memory',
    panel: () => 'swap-traffic',
    title: () => 'Swap in and out',
    label: (m) => m[1],
  },
  {
    pattern: /^mem\.([A-Za-z0-9_]+)_per_s$/,
    group: 'Memory',
    panel: () => 'mem-events',
    title: () => 'Memory events',
    label: (m) => m[1].replace(/_/g, ' '),
  },
  {
    pattern: /^swap\.([A-Za-z0-9_]+)_bytes$/,
    group: 'Memory',
    panel: () => 'swap-bytes',
    title: () => 'Swap',
    label: (m) => m[1].replace(/_/g, ' '),
  },
  // Disk: filesystems used, throughput and operations of all disks, then each device.
  {
    pattern: /^disk$/,
    group: 'Disk',
    panel: () => 'disk-used',
    title: () => 'Filesystems used',
    label: () => 'fullest',
  },
  {
    pattern: /^disk\.used\.(.+)$/,
    group: 'Disk',
    panel: () => 'disk-used',
    title: () => 'Filesystems used',
    label: (m) => mountLabel(m[1]),
  },
  {
    pattern: /^disk\.(read|write)_bytes_per_s$/,
    group: 'Disk',
    panel: () => 'disk-io',
    title: () => 'Disk throughput, all disks',
    label: (m) => m[1],
  },
  {
    pattern: /^disk\.(reads|writes)_per_s$/,
    group: 'Disk',
    panel: () => 'disk-ops',
    title: () => 'Disk operations, all disks',
    label: (m) => m[1],
  },
  {
    pattern: /^disk\.([^.]+)\.busy$/,
    group: 'Disk',
    panel: () => 'disk-busy',
    title: () => 'Disk busy time per device',
    label: (m) => m[1],
  },
  {
    pattern: /^disk\.([^.]+)\.(read|write)_bytes_per_s$/,
    group: 'Disk',
    panel: (m) => `disk-${m[1]}-io`,
    title: (m) => `${m[1]}: throughput`,
    label: (m) => m[2],
  },
  {
    pattern: /^disk\.([^.]+)\.(reads|writes)_per_s$/,
    group: 'Disk',
    panel: (m) => `disk-${m[1]}-ops`,
    title: (m) => `${m[1]}: operations`,
    label: (m) => m[2],
  },
  // Network: all interfaces, then each interface; errors and drops apart from bytes.
  {
    pattern: /^net\.(rx|tx)_bytes_per_s$/,
    group: 'Network',
    panel: () => 'net',
    title: () => 'Network, all interfaces',
    label: (m) => RX_TX[m[1]],
  },
  {
    pattern: /^net\.(rx|tx)_(errors|drops)_per_s$/,
    group: 'Network',
    panel: () => 'net-errors',
    title: () => 'Errors and drops, all interfaces',
    label: (m) => `${m[2]} ${RX_TX[m[1]]}`,
  },
  {
    pattern: /^net\.([^.]+)\.(rx|tx)_bytes_per_s$/,
    group: 'Network',
    panel: (m) => `net-${m[1]}`,
    title: (m) => `${m[1]}: throughput`,
    label: (m) => RX_TX[m[2]],
  },
  {
    pattern: /^net\.([^.]+)\.(rx|tx)_(errors|drops)_per_s$/,
    group: 'Network',
    panel: (m) => `net-${m[1]}-errors`,
    title: (m) => `${m[1]}: errors and drops`,
    label: (m) => `${m[3]} ${RX_TX[m[2]]}`,
  },
  // Load average, pressure stall per resource, GPUs.
  {
    pattern: /^load\.(\d+)$/,
    group: 'Load',
    panel: () => 'load',
    title: () => 'Load average',
    label: (m) => `${m[1]} min`,
  },
  {
    pattern: /^pressure\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$/,
    group: 'Pressure',
    panel: (m) => `pressure-${m[1]}`,
    title: (m) =>
      `${m[1] === 'io' ? 'IO' : m[1][0].toUpperCase() + m[1].slice(1)} pressure (time stalled)`,
    label: (m) => m[2],
  },
  {
    pattern: /^gpu(?:\.(\d+))?$/,
    group: 'GPU',
    panel: () => 'gpu',
    title: () => 'GPU utilisation',
    label: (m) => (m[1] === undefined ? 'all cards' : `card ${m[1]}`),
  },
  {
    pattern: /^gpu(?:\.(\d+))?\.mem$/,
    group: 'GPU',
    panel: () => 'gpu-mem',
    title: () => 'GPU memory used',
    label: (m) => (m[1] === undefined ? 'all cards' : `card ${m[1]}`),
  },
  // The system's own counts.
  {
    pattern: /^procs\.(running|blocked)$/,
    group: 'System',
    panel: () => 'procs',
    title: () => 'Processes running and blocked',
    label: (m) => m[1],
  },
  {
    pattern: /^procs\.forks_per_s$/,
    group: 'System',
    panel: () => 'forks',
    title: () => 'Processes started',
    label: () => 'forks',
  },
  {
    pattern: /^fd\.open$/,
    group: 'System',
    panel: () => 'fds',
    title: () => 'Open files',
    label: () => 'open',
  },
  {
    pattern: /^uptime_s$/,
    group: 'System',
    panel: () => 'uptime',
    title: () => 'Uptime',
    label: () => 'since boot',
  },
];

/** Families whose unknown members still belong to the family's group (one chart per unit). */
const FAMILIES = [
  [/^cpu\./, 'CPU'],
  [/^(mem|swap)\./, 'Memory'],
  [/^disk\./, 'Disk'],
  [/^net\./, 'Network'],
  [/^load\./, 'Load'],
  [/^pressure\./, 'Pressure'],
  [/^gpu\./, 'GPU'],
  [/^(procs|fd)\.|^uptime_s$/, 'System'],
];

/**
 * Where a metric goes: its group, its chart (key and title), its line's label and its unit.
 * @param {string} metric
 */
export function placeOf(metric) {
  const unit = unitOf(metric);
  for (const rule of RULES) {
    const m = rule.pattern.exec(metric);
    if (m) {
      return {
        group: rule.group,
        panel: rule.panel(m),
        title: rule.title(m),
        label: rule.label(m),
        unit,
      };
    }
  }
  for (const [pattern, group] of FAMILIES) {
    if (pattern.test(metric)) {
      // A family member of its own kind: one chart per name, so scales never mix.
      return { group, panel: `${group}:${metric}`, title: metric, label: metric, unit };
    }
  }
  return { group: 'Other', panel: `other:${metric}`, title: metric, label: metric, unit };
}

/** "core 10" after "core 9": numbers inside labels compare as numbers. */
const naturally = new Intl.Collator('en', { numeric: true }).compare;

/**
 * A host's metric names as groups of charts, in reading order.
 * @param {string[]} metrics
 * @returns {{ group: string, panels: { key: string, title: string, unit: string, series: { metric: string, label: string }[] }[] }[]}
 */
export function groupMetrics(metrics) {
  const panels = new Map();
  const order = new Map(RULES.map((rule, i) => [rule, i]));
  for (const metric of metrics) {
    const place = placeOf(metric);
    let panel = panels.get(place.panel);
    if (!panel) {
      const rank = RULES.findIndex((rule) => rule.pattern.test(metric));
      panel = {
        key: place.panel,
        group: place.group,
        title: place.title,
        unit: place.unit,
        rank: rank < 0 ? order.size : rank,
        series: [],
      };
      panels.set(place.panel, panel);
    }
    panel.series.push({ metric, label: place.label });
  }
  const groups = [];
  for (const group of GROUPS) {
    const mine = [...panels.values()]
      .filter((p) => p.group === group)
      .sort((a, b) => a.rank - b.rank || naturally(a.title, b.title));
    if (mine.length === 0) continue;
    for (const panel of mine) {
      panel.series.sort((a, b) => naturally(a.label, b.label));
      delete panel.rank;
      delete panel.group;
    }
    groups.push({ group, panels: mine });
  }
  return groups;
}
