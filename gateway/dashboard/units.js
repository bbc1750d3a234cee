// Units of the metrics the agent reports, read from their names (README, "Metrics
// the agent reports"), and how values of each unit are written: on axes, in
// legends and on tiles. A name it does not know gets no unit rather than a wrong one.

/** @typedef {'percent' | 'bytes' | 'bytesPerSecond' | 'perSecond' | 'seconds' | 'count' | 'load' | 'number'} Unit */

const PERCENT = [
  /^cpu(\.[A-Za-z0-9_]+)*$/,
  /^mem$/,
  /^swap$/,
  /^disk$/,
  /^disk\.used\./,
  /\.busy$/,
  /^gpu(\.\d+)?(\.mem)?$/,
  /^pressure\./,
];

/**
 * The unit of a metric, from its name.
 * @param {string} name
 * @returns {Unit}
 */
export function unitOf(name) {
  if (/_bytes_per_s$/.test(name)) return 'bytesPerSecond';
  if (/_per_s$/.test(name)) return 'perSecond';
  if (/_bytes$/.test(name)) return 'bytes';
  if (/(^|[._])uptime_s$|_seconds$/.test(name)) return 'seconds';
  if (/^load\.\d+$/.test(name)) return 'load';
  if (/^(procs|fd)\./.test(name)) return 'count';
  if (PERCENT.some((pattern) => pattern.test(name))) return 'percent';
  return 'number';
}

/** What an axis or a caption says the unit is. */
export const UNIT_NAMES = {
  percent: '%',
  bytes: 'bytes',
  bytesPerSecond: 'bytes/s',
  perSecond: 'per second',
  seconds: 'time',
  count: 'count',
  load: 'load',
  number: 'value',
};

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
const DECIMAL = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** Up to three significant digits, without trailing zeros; whole numbers as they are. */
function short(value) {
  if (value === 0) return '0';
  const size = Math.abs(value);
  if (size >= 100 || Number.isInteger(value)) return String(Math.round(value));
  if (size >= 10) return String(Math.round(value * 10) / 10);
  if (size >= 1) return String(Math.round(value * 100) / 100);
  return String(Number(value.toPrecision(2)));
}

/** A value scaled by powers of `base`, with the prefix that keeps it below `base`. */
function scaled(value, base, prefixes) {
  let k = 0;
  let v = value;
  while (Math.abs(v) >= base && k < prefixes.length - 1) {
    v /= base;
    k++;
  }
  return [short(v), prefixes[k]];
}

function duration(seconds) {
  const s = Math.abs(seconds);
  if (s < 90) return [short(seconds), 's'];
  if (s < 5400) return [short(seconds / 60), 'min'];
  if (s < 172_800) return [short(seconds / 3600), 'h'];
  return [short(seconds / 86_400), 'd'];
}

/**
 * A value as an operator reads it, as its number and its unit: ["12.5", "%"],
 * ["1.5", "MiB/s"], ["120", "/s"], ["3.2", "GiB"]; ["–", ""] for no value.
 * @param {number | null | undefined} value
 * @param {Unit} unit
 * @returns {[string, string]}
 */
export function formatParts(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return ['–', ''];
  switch (unit) {
    case 'percent':
      return [short(value), '%'];
    case 'bytes':
      return scaled(value, 1024, BINARY);
    case 'bytesPerSecond': {
      const [v, p] = scaled(value, 1024, BINARY);
      return [v, `${p}/s`];
    }
    case 'perSecond': {
      const [v, p] = scaled(value, 1000, DECIMAL);
      return [`${v}${p}`, '/s'];
    }
    case 'seconds':
      return duration(value);
    default: {
      const [v, p] = scaled(value, 1000, DECIMAL);
      return [`${v}${p}`, ''];
    }
  }
}

/** A value with its unit in one string: "12.5 %", "1.5 MiB/s", "120 /s", "3.2 GiB". */
export function formatValue(value, unit) {
  const [number, unitText] = formatParts(value, unit);
  return unitText ? `${number} ${unitText}` : number;
}

/**
 * Tick steps for an axis: binary ones for bytes (so ticks fall on 256 MiB, 1 GiB,
 * not on 476.8 MiB), decimal ones for everything else (uPlot's default).
 * @param {Unit} unit
 * @returns {number[] | undefined}
 */
export function axisSteps(unit) {
  if (unit !== 'bytes' && unit !== 'bytesPerSecond') return undefined;
  const steps = [];
  for (let k = 0; k < 7; k++) for (let m = 1; m < 1024; m *= 2) steps.push(m * 1024 ** k);
  return steps;
}

/**
 * The fixed range of an axis where the unit has one (busy % from 0 to 100);
 * pressure and the like stay automatic, from 0.
 * @param {Unit} unit
 * @param {string[]} metrics
 */
export function axisRange(unit, metrics) {
  if (unit === 'percent' && metrics.every((m) => !m.startsWith('pressure.'))) return [0, 100];
  return null;
}
