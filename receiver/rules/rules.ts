// Incident rules, read once at start from RULES_FILE (JSON or YAML) into typed
// rules. A bad file stops the rules consumer with one line naming the rule and
// the field. Without a file, the default rules below apply.
import { HOST_NAME, METRIC_NAME } from '../../proto/sample.ts';

export type Aggregate = 'avg' | 'min' | 'max';
export type Comparison = '>' | '>=' | '<' | '<=';

export interface Rule {
  name: string;
  metric: string;
  /** Which hosts the rule watches. */
  hosts: HostSelector;
  /** The window: the last `size` samples, or the samples of the last `size` ms. */
  window: { kind: 'samples' | 'ms'; size: number; text: string };
  aggregate: Aggregate;
  op: Comparison;
  threshold: number;
  /** The incident resolves only once the aggregate is past this (below it for > and >=). */
  resolve: number;
  /** How long the condition must hold before an incident opens, ms (0: at once). */
  forMs: number;
  severity: string;
}

export type HostSelector =
  | { kind: 'all' }
  | { kind: 'list'; hosts: string[] }
  | { kind: 'pattern'; pattern: RegExp; text: string };

export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

/** The rules that apply when no RULES_FILE is given. */
export const DEFAULT_RULES_SOURCE = {
  rules: [
    {
      name: 'cpu-high',
      metric: 'cpu',
      window: 3,
      aggregate: 'avg',
      op: '>',
      threshold: 90,
      severity: 'warning',
    },
    {
      name: 'mem-high',
      metric: 'mem',
      window: 3,
      aggregate: 'avg',
      op: '>',
      threshold: 90,
      severity: 'warning',
    },
    {
      name: 'disk-high',
      metric: 'disk',
      window: 9,
      aggregate: 'avg',
      op: '>',
      threshold: 90,
      severity: 'critical',
    },
  ],
};

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RULE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const FIELDS = new Set([
  'name',
  'metric',
  'hosts',
  'window',
  'aggregate',
  'op',
  'threshold',
  'resolve',
  'for',
  'severity',
]);

function duration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  return match ? Number(match[1]) * UNIT_MS[match[2]!]! : null;
}

/** `*` and `?` as in shell globs; `/…/` as a regular expression. */
function hostPattern(text: string): RegExp {
  if (text.length > 2 && text.startsWith('/') && text.endsWith('/'))
    return new RegExp(text.slice(1, -1));
  const escaped = text
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`);
}

/** A little under the firing threshold, so that an incident does not flap around it. */
export function defaultResolve(op: Comparison, threshold: number): number {
  const margin = Math.max(1, Math.abs(threshold) * 0.05);
  return op === '>' || op === '>=' ? threshold - margin : threshold + margin;
}

export function parseRules(source: unknown): Rule[] {
  const list = Array.isArray(source) ? source : (source as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list))
    throw new RuleError('the file must hold a list of rules under "rules:"');
  const seen = new Set<string>();
  return list.map((raw, index) => {
    const where = `rules[${index}]${raw && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? ` '${(raw as { name: string }).name}'` : ''}`;
    const fail = (field: string, problem: string): never => {
      throw new RuleError(`${where}: field '${field}' ${problem}`);
    };
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new RuleError(`${where}: is not a mapping of fields`);
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r))
      if (!FIELDS.has(key)) fail(key, `is not a rule field (${[...FIELDS].join(', ')})`);

    const name =
      typeof r.name === 'string' && RULE_NAME.test(r.name)
        ? r.name
        : fail('name', 'must be 1 to 64 characters of [A-Za-z0-9_.:-]');
    if (seen.has(name)) fail('name', `'${name}' is used by an earlier rule`);
    seen.add(name);
    const metric =
      typeof r.metric === 'string' && METRIC_NAME.test(r.metric)
        ? r.metric
        : fail('metric', 'must be a metric name');

    let hosts: HostSelector = { kind: 'all' };
    if (r.hosts === undefined || r.hosts === 'all') hosts = { kind: 'all' };
    else if (Array.isArray(r.hosts)) {
      if (r.hosts.length === 0) fail('hosts', 'is an empty list');
      for (const h of r.hosts)
        if (typeof h !== 'string' || !HOST_NAME.test(h))
          fail('hosts', `has '${String(h)}', not a host name`);
      hosts = { kind: 'list', hosts: r.hosts as string[] };
    } else if (typeof r.hosts === 'string') {
      try {
        hosts = { kind: 'pattern', pattern: hostPattern(r.hosts), text: r.hosts };
      } catch {
        fail('hosts', `'${r.hosts}' is not a valid pattern`);
      }
    } else
      fail('hosts', 'must be all, a list of hosts, or a pattern such as web-* or /^db[0-9]+$/');

    let window: Rule['window'];
    if (typeof r.window === 'number') {
      if (!Number.isInteger(r.window) || r.window < 1 || r.window > 10_000)
        fail('window', 'must be a number of samples from 1 to 10000, or a duration');
      window = { kind: 'samples', size: r.window as number, text: `${r.window} samples` };
    } else if (
      typeof r.window === 'string' &&
      duration(r.window) !== null &&
      duration(r.window)! > 0
    ) {
      window = { kind: 'ms', size: duration(r.window)!, text: r.window };
    } else {
      window = fail('window', 'must be a number of samples (as 3) or a duration (as 30s, 5m)');
    }

    const aggregate = r.aggregate ?? 'avg';
    if (aggregate !== 'avg' && aggregate !== 'min' && aggregate !== 'max')
      fail('aggregate', 'must be avg, min or max');
    const op = r.op ?? '>';
    if (op !== '>' && op !== '>=' && op !== '<' && op !== '<=')
      fail('op', "must be '>', '>=', '<' or '<='");
    const threshold =
      typeof r.threshold === 'number' && Number.isFinite(r.threshold)
        ? r.threshold
        : fail('threshold', 'must be a number');
    const resolve =
      r.resolve === undefined
        ? defaultResolve(op as Comparison, threshold)
        : typeof r.resolve === 'number' && Number.isFinite(r.resolve)
          ? r.resolve
          : fail('resolve', 'must be a number');
    const above = op === '>' || op === '>=';
    if (above ? resolve > threshold : resolve < threshold) {
      fail(
        'resolve',
        `${resolve} must be on the safe side of the threshold ${threshold} (${above ? 'at or below' : 'at or above'} it)`,
      );
    }
    const forMs =
      r.for === undefined
        ? 0
        : typeof r.for === 'string' && duration(r.for) !== null
          ? duration(r.for)!
          : fail('for', 'must be a duration (as 30s, 5m)');
    const severity =
      r.severity === undefined
        ? 'warning'
        : typeof r.severity === 'string' && /^[a-z]{1,20}$/.test(r.severity)
          ? r.severity
          : fail('severity', 'must be a word such as info, warning or critical');

    return {
      name,
      metric,
      hosts,
      window,
      aggregate: aggregate as Aggregate,
      op: op as Comparison,
      threshold,
      resolve,
      forMs,
      severity,
    };
  });
}

export function ruleWatches(rule: Rule, host: string): boolean {
  if (rule.hosts.kind === 'all') return true;
  if (rule.hosts.kind === 'list') return rule.hosts.hosts.includes(host);
  return rule.hosts.pattern.test(host);
}
