// How a loadstar metric name reads in Prometheus (a metric name and labels,
// with the host as one more label) and back. The gateway's Prometheus API reads
// with it, the receiver's remote_write and line protocol ingest write with it.
// Reversible both ways: never two loadstar names on one series, nor the reverse.
//
// A name is spelt by the first rule that fits it:
//   1. the agent's families:    load.1 -> load_1, cpu.core.3 -> cpu_core{core="3"},
//                               net.eth0.rx_bytes_per_s -> net_rx_bytes_per_second{iface="eth0"} ...
//   2. a series written in:     node_cpu_seconds_total.cpu-0.mode-idle
//                               -> node_cpu_seconds_total{cpu="0",mode="idle"}
//      (labels sorted, `.` before each, `-` between name and value; a value
//      keeps [A-Za-z0-9_-] and writes every other UTF-8 byte as `:HH`)
//   3. a valid Prometheus name: cpu -> cpu, X7Q2LZ0B -> X7Q2LZ0B
//   4. anything else:           web.p99-ms -> web_p99_ms{loadstar_metric="web.p99-ms"}
// A series that rule 1 spells is never spelt by rules 2 to 4 (they step aside
// to rule 4), which is what keeps the mapping one to one.

import { LoadstarError } from './errors.ts';
import { METRIC_NAME } from './sample.ts';

export const PROM_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const PROM_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The label every series carries: the host the sample came from. */
export const HOST_LABEL = 'host';
/** The label of rule 4, naming a loadstar metric that has no Prometheus spelling of its own. */
export const NAME_LABEL = 'loadstar_metric';

/** A label: name and value. Label lists are sorted by name, each name once. */
export type Label = readonly [string, string];

/** A metric as Prometheus sees it, without its host: a name and labels (sorted, no __name__, no host). */
export interface PromSeries {
  name: string;
  labels: Label[];
}

interface Family {
  /** The loadstar name is prefix + part + suffix; a fixed name has no part. */
  prefix: string;
  suffix: string;
  /** What the variable part may be; absent for a fixed name. */
  part?: RegExp;
  name: string;
  label?: string;
  help: string;
}

const ANY_PART = /^[A-Za-z0-9_.:-]+$/;
const DIGITS = /^\d+$/;

const fixed = (metric: string, name: string, help: string): Family => ({
  prefix: metric,
  suffix: '',
  name,
  help,
});

/** The agent's metrics (README "Metrics the agent reports"), spelt the Prometheus way. */
const FAMILIES: Family[] = [
  fixed('load.1', 'load_1', 'Load average over 1 minute.'),
  fixed('load.5', 'load_5', 'Load average over 5 minutes.'),
  fixed('load.15', 'load_15', 'Load average over 15 minutes.'),
  fixed('gpu.mem', 'gpu_mem', 'NVIDIA gpu memory used %, mean over cards.'),
  fixed('disk.read_bytes_per_s', 'disk_read_bytes_per_second', 'Disk reads, bytes/s, all disks.'),
  fixed(
    'disk.write_bytes_per_s',
    'disk_write_bytes_per_second',
    'Disk writes, bytes/s, all disks.',
  ),
  fixed('net.rx_bytes_per_s', 'net_rx_bytes_per_second', 'Network received, bytes/s.'),
  fixed('net.tx_bytes_per_s', 'net_tx_bytes_per_second', 'Network sent, bytes/s.'),
  {
    prefix: 'cpu.core.',
    suffix: '',
    part: DIGITS,
    name: 'cpu_core',
    label: 'core',
    help: 'Busy % of one cpu core.',
  },
  {
    prefix: 'disk.used.',
    suffix: '',
    part: ANY_PART,
    name: 'disk_used',
    label: 'mount',
    help: 'Used % of one filesystem, as df counts it.',
  },
  {
    prefix: 'net.',
    suffix: '.rx_bytes_per_s',
    part: ANY_PART,
    name: 'net_rx_bytes_per_second',
    label: 'iface',
    help: 'Network received, bytes/s.',
  },
  {
    prefix: 'net.',
    suffix: '.tx_bytes_per_s',
    part: ANY_PART,
    name: 'net_tx_bytes_per_second',
    label: 'iface',
    help: 'Network sent, bytes/s.',
  },
  { prefix: 'gpu.', suffix: '', part: DIGITS, name: 'gpu', label: 'card', help: '' },
  { prefix: 'gpu.', suffix: '.mem', part: DIGITS, name: 'gpu_mem', label: 'card', help: '' },
];

/** Help text of the agent's metrics by Prometheus name (for /federate and /api/v1/metadata). */
export const AGENT_HELP: ReadonlyMap<string, string> = new Map([
  ['cpu', 'Total cpu busy %, all cores.'],
  ['mem', 'Memory used %: (total - available) / total.'],
  ['swap', 'Swap used % (0 without swap).'],
  ['disk', 'Used % of the fullest filesystem.'],
  ['gpu', 'NVIDIA gpu utilisation %, mean over cards (with card: one card).'],
  ['gpu_mem', 'NVIDIA gpu memory used %, mean over cards (with card: one card).'],
  ...FAMILIES.filter((f) => f.help !== '').map((f) => [f.name, f.help] as [string, string]),
]);

/** Rule 3 would give these plain names to loadstar names that rule 1 gives them already. */
const FAMILY_PLAIN_NAMES = new Set(FAMILIES.filter((f) => !f.part).map((f) => f.name));

/** The series of a loadstar name by rule 1, or null. */
function familySeries(metric: string): PromSeries | null {
  for (const f of FAMILIES) {
    if (!f.part) {
      if (metric === f.prefix) return { name: f.name, labels: [] };
      continue;
    }
    if (metric.length <= f.prefix.length + f.suffix.length) continue;
    if (!metric.startsWith(f.prefix) || !metric.endsWith(f.suffix)) continue;
    const part = metric.slice(f.prefix.length, metric.length - f.suffix.length);
    if (f.part.test(part)) return { name: f.name, labels: [[f.label!, part]] };
  }
  return null;
}

/** The loadstar name rule 1 spells as this series, or null. */
function familyMetric(series: PromSeries): string | null {
  for (const f of FAMILIES) {
    if (f.name !== series.name) continue;
    if (!f.part) {
      if (series.labels.length === 0) return f.prefix;
      continue;
    }
    if (series.labels.length !== 1 || series.labels[0]![0] !== f.label) continue;
    const part = series.labels[0]![1];
    const metric = `${f.prefix}${part}${f.suffix}`;
    if (!f.part.test(part) || !METRIC_NAME.test(metric)) continue;
    const back = familySeries(metric);
    if (back && sameSeries(back, series)) return metric;
  }
  return null;
}

const RAW_VALUE_BYTE = /[A-Za-z0-9_-]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A label value in a loadstar name: [A-Za-z0-9_-] as is, every other UTF-8 byte as `:HH`. */
function escapeValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out +=
      byte < 0x80 && RAW_VALUE_BYTE.test(c)
        ? c
        : `:${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function unescapeValue(text: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ':') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (RAW_VALUE_BYTE.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      return null;
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** A label a written series may carry into a loadstar name (rule 2). */
function isMetricLabel(name: string): boolean {
  return (
    PROM_LABEL_NAME.test(name) &&
    !name.startsWith('__') &&
    name !== HOST_LABEL &&
    name !== NAME_LABEL
  );
}

/** Rule 2's spelling of a series with labels. */
function labelledMetric(series: PromSeries): string {
  return `${series.name}${series.labels.map(([n, v]) => `.${n}-${escapeValue(v)}`).join('')}`;
}

/** Rule 2 read back: the series, when `metric` is exactly rule 2's spelling of one. */
function labelledSeries(metric: string): PromSeries | null {
  const [name, ...parts] = metric.split('.');
  if (parts.length === 0 || !PROM_METRIC_NAME.test(name!)) return null;
  const labels: Label[] = [];
  for (const part of parts) {
    const dash = part.indexOf('-');
    if (dash <= 0) return null;
    const label = part.slice(0, dash);
    const value = unescapeValue(part.slice(dash + 1));
    if (!isMetricLabel(label) || value === null || value === '') return null;
    if (labels.length > 0 && labels.at(-1)![0] >= label) return null;
    labels.push([label, value]);
  }
  const series = { name: name!, labels };
  // Only the one canonical spelling counts, so that no two names read as one series.
  return labelledMetric(series) === metric ? series : null;
}

/** Rule 4: a valid Prometheus name close to the loadstar one, and the name itself as a label. */
function namedSeries(metric: string): PromSeries {
  const name = metric.replace(/[^a-zA-Z0-9_:]/g, '_');
  return { name: /^[0-9]/.test(name) ? `_${name}` : name, labels: [[NAME_LABEL, metric]] };
}

/** How a loadstar metric name reads in Prometheus (rules 1 to 4 above). */
export function promSeries(metric: string): PromSeries {
  const family = familySeries(metric);
  if (family) return family;
  const labelled = labelledSeries(metric);
  if (labelled && familyMetric(labelled) === null) return labelled;
  if (PROM_METRIC_NAME.test(metric) && !FAMILY_PLAIN_NAMES.has(metric))
    return { name: metric, labels: [] };
  return namedSeries(metric);
}

/** Why a written series has no loadstar name (code `bad_input`). */
export class UnmappableSeries extends LoadstarError {
  constructor(message: string) {
    super('bad_input', message);
  }
}

/**
 * The loadstar metric name a Prometheus series (without its host label) is
 * stored under: the inverse of promSeries. Throws UnmappableSeries, saying why,
 * when there is none (a name past 128 characters, a reserved label).
 */
export function loadstarMetric(series: PromSeries): string {
  if (!PROM_METRIC_NAME.test(series.name))
    throw new UnmappableSeries(
      `metric name ${JSON.stringify(series.name)} is not a Prometheus name`,
    );
  const labels = [...series.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < labels.length; i++) {
    if (labels[i]![0] === labels[i - 1]![0])
      throw new UnmappableSeries(`label ${labels[i]![0]} appears twice`);
  }
  const own = labels.find(([n]) => n === NAME_LABEL);
  if (own) {
    const metric = own[1];
    if (METRIC_NAME.test(metric) && sameSeries(promSeries(metric), { name: series.name, labels }))
      return metric;
    throw new UnmappableSeries(
      `label ${NAME_LABEL} is loadstar's own (it names a metric Prometheus cannot spell), and ${JSON.stringify(metric.slice(0, 60))} does not name this series`,
    );
  }
  const present = labels.filter(([, v]) => v !== '');
  const sorted = { name: series.name, labels: present };
  const family = familyMetric(sorted);
  if (family !== null) return family;
  for (const [name] of present) {
    if (!isMetricLabel(name))
      throw new UnmappableSeries(`label name ${JSON.stringify(name)} is reserved`);
  }
  const metric = present.length === 0 ? series.name : labelledMetric(sorted);
  if (metric.length > 128) {
    throw new UnmappableSeries(
      `series ${series.name} with its labels makes a loadstar name of ${metric.length} characters; the limit is 128`,
    );
  }
  return metric;
}

export function sameSeries(a: PromSeries, b: PromSeries): boolean {
  return (
    a.name === b.name &&
    a.labels.length === b.labels.length &&
    a.labels.every(([n, v], i) => b.labels[i]![0] === n && b.labels[i]![1] === v)
  );
}
