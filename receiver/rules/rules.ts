// Incident rules, read from RULES_FILE (JSON or YAML) into typed rules: at start,
// where a bad file stops the rules consumer with one line naming the rule and the
// field, and again on SIGHUP or a change of the file (see RuleSource). Without a
// file, the default rules below apply.
import { DURATION_FORMS, parseDuration } from '../../deploy/runtime/config.ts';
import {
  Entry,
  FileError,
  type FilePlace,
  isMapping,
} from '../../deploy/runtime/structured-file.ts';
import { namePattern } from '../../proto/pattern.ts';
import { HOST_NAME, METRIC_NAME } from '../../proto/sample.ts';

export type Aggregate = 'avg' | 'min' | 'max';
export type Comparison = '>' | '>=' | '<' | '<=';

/** A metric's aggregate over a window passes a threshold; evaluated as samples arrive. */
export interface ThresholdRule {
  kind: 'threshold';
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

/**
 * A host that reported and then sent nothing for `intervals` of its own
 * intervals (as its samples declare them); evaluated on a clock, since no sample
 * arrives to trigger it. Resolves when samples come back.
 */
export interface AbsentRule {
  kind: 'absent';
  name: string;
  hosts: HostSelector;
  intervals: number;
  severity: string;
}

export type Rule = ThresholdRule | AbsentRule;

export type HostSelector =
  | { kind: 'all' }
  | { kind: 'list'; hosts: string[] }
  | { kind: 'pattern'; pattern: RegExp; text: string };

/** A rules file refused: names the rule, the field and, for a file read from disk, its line. */
export class RuleError extends FileError {
  constructor(message: string, place?: FilePlace) {
    super(message, place);
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
    { name: 'host-down', kind: 'absent', intervals: 5, severity: 'critical' },
  ],
};

const RULE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const FIELDS = new Set([
  'name',
  'kind',
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
const ABSENT_FIELDS = new Set(['name', 'kind', 'hosts', 'intervals', 'severity']);
/** The sections a rules file may hold: the rules consumer reads `rules`, the notifier the others. */
const SECTIONS = new Set(['rules', 'receivers', 'routes']);

/** A little under the firing threshold, so that an incident does not flap around it. */
export function defaultResolve(op: Comparison, threshold: number): number {
  const margin = Math.max(1, Math.abs(threshold) * 0.05);
  return op === '>' || op === '>=' ? threshold - margin : threshold + margin;
}

export function parseRules(source: unknown): Rule[] {
  const sections =
    source && typeof source === 'object' && !Array.isArray(source)
      ? Object.keys(source as object)
      : [];
  const unknown = sections.filter((key) => !SECTIONS.has(key));
  let list = Array.isArray(source) ? source : (source as { rules?: unknown } | null)?.rules;
  // A file of receivers and routes only (for the notifier) leaves the default rules in force.
  if (list === undefined && sections.length > 0 && unknown.length === 0)
    list = DEFAULT_RULES_SOURCE.rules;
  if (!Array.isArray(list) || unknown.length > 0)
    throw new RuleError(
      `the file must hold a list of rules under "rules:" (and may hold "receivers:" and "routes:")${unknown.length > 0 ? `, not '${unknown[0]}'` : ''}`,
    );
  const seen = new Set<string>();
  return list.map((raw, index) => {
    const where = `rules[${index}]${isMapping(raw) && typeof raw.name === 'string' ? ` '${raw.name}'` : ''}`;
    if (!isMapping(raw)) throw new RuleError(`${where}: is not a mapping of fields`);
    const entry = new Entry(raw, where, { error: RuleError });
    const fail = (field: string, problem: string): never => entry.fail(field, problem);
    const r = raw;
    const kind = r.kind ?? 'threshold';
    if (kind !== 'threshold' && kind !== 'absent') fail('kind', 'must be threshold or absent');
    entry.checkKnown(
      kind === 'absent' ? ABSENT_FIELDS : FIELDS,
      kind === 'absent' ? 'a field of an absent rule' : 'a rule field',
    );

    const name =
      typeof r.name === 'string' && RULE_NAME.test(r.name)
        ? r.name
        : fail('name', 'must be 1 to 64 characters of [A-Za-z0-9_.:-]');
    if (seen.has(name)) fail('name', `'${name}' is used by an earlier rule`);
    seen.add(name);
    const hosts = parseHosts(r.hosts, fail);
    const severity =
      r.severity === undefined
        ? kind === 'absent'
          ? 'critical'
          : 'warning'
        : typeof r.severity === 'string' && /^[a-z]{1,20}$/.test(r.severity)
          ? r.severity
          : fail('severity', 'must be a word such as info, warning or critical');
    if (kind === 'absent') {
      const intervals = r.intervals ?? 5;
      if (
        typeof intervals !== 'number' ||
        !Number.isFinite(intervals) ||
        intervals < 1 ||
        intervals > 10_000
      )
        fail('intervals', 'must be a number of intervals from 1 to 10000');
      return { kind: 'absent', name, hosts, intervals: intervals as number, severity };
    }

    const metric =
      typeof r.metric === 'string' && METRIC_NAME.test(r.metric)
        ? r.metric
        : fail('metric', 'must be a metric name');

    let window: ThresholdRule['window'];
    if (typeof r.window === 'number') {
      if (!Number.isInteger(r.window) || r.window < 1 || r.window > 10_000)
        fail('window', 'must be a number of samples from 1 to 10000, or a duration');
      window = { kind: 'samples', size: r.window as number, text: `${r.window} samples` };
    } else {
      // A bare number is a count of samples, so a duration window carries its unit.
      const ms =
        typeof r.window === 'string' && !/^[\d.\s]*$/.test(r.window)
          ? parseDuration(r.window)
          : undefined;
      window =
        ms !== undefined && ms > 0
          ? { kind: 'ms', size: ms, text: r.window as string }
          : fail(
              'window',
              'must be a number of samples (as 3) or a duration with a unit ms, s, m, h or d (as 30s, 5m)',
            );
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
        : (parseDuration(r.for) ?? fail('for', `must be a duration: ${DURATION_FORMS}`));

    return {
      kind: 'threshold',
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

/** `all` (or left out), a list of hosts, or a pattern: which hosts a rule (or route) watches. */
export function parseHosts(
  value: unknown,
  fail: (field: string, problem: string) => never,
): HostSelector {
  if (value === undefined || value === 'all') return { kind: 'all' };
  if (Array.isArray(value)) {
    if (value.length === 0) fail('hosts', 'is an empty list');
    for (const h of value)
      if (typeof h !== 'string' || !HOST_NAME.test(h))
        fail('hosts', `has '${String(h)}', not a host name`);
    return { kind: 'list', hosts: value as string[] };
  }
  if (typeof value === 'string') {
    try {
      return { kind: 'pattern', pattern: namePattern(value), text: value };
    } catch {
      return fail('hosts', `'${value}' is not a valid pattern`);
    }
  }
  return fail('hosts', 'must be all, a list of hosts, or a pattern such as web-* or /^db[0-9]+$/');
}

export function ruleWatches(rule: Pick<Rule, 'hosts'>, host: string): boolean {
  return hostSelected(rule.hosts, host);
}

export function hostSelected(selector: HostSelector, host: string): boolean {
  if (selector.kind === 'all') return true;
  if (selector.kind === 'list') return selector.hosts.includes(host);
  return selector.pattern.test(host);
}

/** The rules' names, for the log. */
export function ruleNames(rules: readonly Rule[]): string {
  return rules.map((r) => r.name).join(',');
}
