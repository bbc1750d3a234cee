import { expect } from 'chai';
import {
  type AbsentRule,
  DEFAULT_RULES_SOURCE,
  defaultResolve,
  parseRules,
  type Rule,
  RuleError,
  ruleWatches,
  type ThresholdRule,
} from '../../receiver/rules/rules.ts';

const thresholds = (rules: Rule[]) =>
  rules.filter((r): r is ThresholdRule => r.kind === 'threshold');

describe('incident rules file', () => {
  it('has the documented defaults: cpu and mem over 3 samples, disk over 9, averaging above 90, host down after 5 intervals', () => {
    const rules = parseRules(DEFAULT_RULES_SOURCE);
    expect(
      thresholds(rules).map((r) => [
        r.name,
        r.metric,
        r.window.size,
        r.aggregate,
        r.op,
        r.threshold,
      ]),
    ).to.deep.equal([
      ['cpu-high', 'cpu', 3, 'avg', '>', 90],
      ['mem-high', 'mem', 3, 'avg', '>', 90],
      ['disk-high', 'disk', 9, 'avg', '>', 90],
    ]);
    expect(thresholds(rules)[0]!.resolve).to.equal(85.5);
    expect(rules.filter((r) => r.kind === 'absent')).to.deep.equal([
      {
        kind: 'absent',
        name: 'host-down',
        hosts: { kind: 'all' },
        intervals: 5,
        severity: 'critical',
      },
    ]);
  });

  it('reads an absent rule with its hosts, intervals and severity, and refuses threshold fields in it', () => {
    const [rule] = parseRules({
      rules: [{ name: 'db-silent', kind: 'absent', hosts: 'db-*', intervals: 3 }],
    }) as AbsentRule[];
    expect(rule).to.include({ kind: 'absent', intervals: 3, severity: 'critical' });
    expect([ruleWatches(rule!, 'db-1'), ruleWatches(rule!, 'web-1')]).to.deep.equal([true, false]);
    expect(() => parseRules({ rules: [{ name: 'x', kind: 'absent', metric: 'cpu' }] })).to.throw(
      "rules[0] 'x': field 'metric' is not a field of an absent rule",
    );
    expect(() => parseRules({ rules: [{ name: 'x', kind: 'absent', intervals: 0 }] })).to.throw(
      "rules[0] 'x': field 'intervals' must be a number of intervals from 1 to 10000",
    );
    expect(() => parseRules({ rules: [{ name: 'x', kind: 'missing' }] })).to.throw(
      "rules[0] 'x': field 'kind' must be threshold or absent",
    );
  });

  it('takes a file of receivers and routes only with the default rules, and refuses an unknown section', () => {
    expect(parseRules({ receivers: [], routes: [] }).map((r) => r.name)).to.deep.equal(
      parseRules(DEFAULT_RULES_SOURCE).map((r) => r.name),
    );
    expect(() => parseRules({ rules: [], alerts: [] })).to.throw("not 'alerts'");
  });

  it('reads windows, host selectors, for, resolve and severity', () => {
    const [a, b, c] = thresholds(
      parseRules({
        rules: [
          {
            name: 'a',
            metric: 'load.5',
            hosts: '/^db[0-9]+$/',
            window: '5m',
            aggregate: 'min',
            op: '>',
            threshold: 8,
            resolve: 6,
            for: '10m',
            severity: 'critical',
          },
          {
            name: 'b',
            metric: 'swap',
            hosts: ['web-01', 'web-02'],
            window: 6,
            aggregate: 'max',
            op: '>=',
            threshold: 50,
          },
          { name: 'c', metric: 'free', hosts: 'web-*', window: 2, op: '<', threshold: 10 },
        ],
      }),
    );
    expect(a!.window).to.deep.equal({ kind: 'ms', size: 300_000, text: '5m' });
    expect(a!.forMs).to.equal(600_000);
    expect([ruleWatches(a!, 'db12'), ruleWatches(a!, 'db-x')]).to.deep.equal([true, false]);
    expect([ruleWatches(b!, 'web-02'), ruleWatches(b!, 'web-03')]).to.deep.equal([true, false]);
    expect([ruleWatches(c!, 'web-9'), ruleWatches(c!, 'webb')]).to.deep.equal([true, false]);
    expect(b!.severity).to.equal('warning');
    expect(c!.resolve).to.equal(11);
    expect(defaultResolve('>', 1000)).to.equal(950);
  });

  for (const [rule, words] of [
    [{ name: 'x', metric: 'cpu', threshold: 90, window: 0 }, "rules[0] 'x': field 'window'"],
    [{ name: 'x', metric: 'c p u', threshold: 90, window: 3 }, "field 'metric'"],
    [{ name: 'x', metric: 'cpu', window: 3 }, "field 'threshold' must be a number"],
    [{ name: 'x', metric: 'cpu', threshold: 90, window: 3, op: '=' }, "field 'op'"],
    [
      { name: 'x', metric: 'cpu', threshold: 90, window: 3, aggregate: 'median' },
      "field 'aggregate'",
    ],
    [
      { name: 'x', metric: 'cpu', threshold: 90, window: 3, resolve: 95 },
      "field 'resolve' 95 must be on the safe side",
    ],
    [{ name: 'x', metric: 'cpu', threshold: 90, window: '3 weeks' }, "field 'window'"],
    [{ name: 'x', metric: 'cpu', threshold: 90, window: 3, for: 'long' }, "field 'for'"],
    [
      { name: 'x', metric: 'cpu', threshold: 90, window: 3, hosts: [] },
      "field 'hosts' is an empty list",
    ],
    [
      { name: 'x', metric: 'cpu', threshold: 90, window: 3, treshold: 1 },
      "field 'treshold' is not a rule field",
    ],
    [{ metric: 'cpu', threshold: 90, window: 3 }, "rules[0]: field 'name'"],
  ] as const) {
    it(`names the rule and field: ${words}`, () => {
      expect(() => parseRules({ rules: [rule] }))
        .to.throw(RuleError)
        .with.property('message')
        .that.includes(words);
    });
  }

  it('refuses two rules with one name, and a file without a list', () => {
    expect(() =>
      parseRules({ rules: [DEFAULT_RULES_SOURCE.rules[0], DEFAULT_RULES_SOURCE.rules[0]] }),
    ).to.throw("rules[1] 'cpu-high': field 'name' 'cpu-high' is used by an earlier rule");
    expect(() => parseRules({ alerts: [] })).to.throw('a list of rules under "rules:"');
  });
});
