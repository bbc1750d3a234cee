// The average a reader of short decimals should get: the exact sum of the
// decimals divided by the count, rounded once. Null when a value is no short
// decimal (a full double) or the sum is too large to check this way.
import { valueToken } from '../../../proto/store/codec.ts';

export function exactAverage(values: number[]): number | null {
  const tokens = values.map(valueToken);
  if (tokens.some((t) => t.startsWith('f'))) return null;
  const decimals = tokens.map((t) => {
    const [m, s] = t.split('e-');
    return { m: BigInt(m!), s: Number(s ?? 0) };
  });
  const scale = Math.max(...decimals.map((d) => d.s));
  const sum = decimals.reduce((acc, d) => acc + d.m * 10n ** BigInt(scale - d.s), 0n);
  const divisor = BigInt(values.length) * 10n ** BigInt(scale);
  if (sum >= 2n ** 50n || sum <= -(2n ** 50n) || divisor >= 2n ** 53n) return null;
  return Number(sum) / Number(divisor);
}
