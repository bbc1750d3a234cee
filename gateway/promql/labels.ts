// Label sets of the series a query works on: always sorted by name, each name
// once, an empty value the same as no label (as in Prometheus). One key string
// per set, so that grouping and matching are map look-ups.
import type { Label } from '../../proto/prometheus-names.ts';

export type { Label };

export const METRIC_NAME_LABEL = '__name__';

/** Sorts by name and leaves out empty values. */
export function labelSet(labels: Iterable<Label>): Label[] {
  return [...labels].filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A string that is equal for equal label sets and different otherwise. */
export function labelsKey(labels: readonly Label[]): string {
  // JSON: unambiguous whatever the names and values hold.
  return JSON.stringify(labels);
}

export function labelValue(labels: readonly Label[], name: string): string {
  for (const [n, v] of labels) if (n === name) return v;
  return '';
}

export function dropName(labels: readonly Label[]): Label[] {
  return labels.filter(([n]) => n !== METRIC_NAME_LABEL);
}

export function keepOnly(labels: readonly Label[], names: readonly string[]): Label[] {
  return labels.filter(([n]) => names.includes(n));
}

export function without(labels: readonly Label[], names: readonly string[]): Label[] {
  return labels.filter(([n]) => !names.includes(n));
}

/** Prometheus' order of label sets: name by name, then value, then the shorter first. */
export function compareLabels(a: readonly Label[], b: readonly Label[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const [an, av] = a[i]!;
    const [bn, bv] = b[i]!;
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return a.length - b.length;
}

/** `{a="1", b="2"}`, as Prometheus writes a label set in messages. */
export function formatLabels(labels: readonly Label[]): string {
  return `{${labels.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}}`;
}
