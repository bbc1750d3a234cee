// JSON encoding of metric values. Values are always written as floats (`1.0`,
// never `1`) so that typed clients decode a float; `null` marks "no value".

/** The JSON text of a finite number as a float: 1 -> "1.0", 0.5 -> "0.5", 1e21 -> "1e+21", -0 -> "-0.0". */
export function renderFloat(value: number): string {
  // String(-0) is "0": the sign would be lost.
  if (Object.is(value, -0)) return '-0.0';
  // Integral values below 1e21 print without a fraction or exponent; everything else is already a float.
  return Number.isInteger(value) && Math.abs(value) < 1e21 ? `${value}.0` : String(value);
}

/** A JSON object of name -> float (or null), keys in the order given. */
export function renderValues(values: Iterable<readonly [string, number | null]>): string {
  let out = '{';
  let first = true;
  for (const [name, value] of values) {
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(name)}:${value === null ? 'null' : renderFloat(value)}`;
  }
  return `${out}}`;
}

/**
 * JSON.stringify, except that the numbers found under keys in `floatKeys` are
 * written as floats. Used for richer API answers that mix values with counts.
 */
export function stringifyWithFloats(value: unknown, floatKeys: ReadonlySet<string>): string {
  const marker = '\u0000float:';
  const json = JSON.stringify(value, (key, v) =>
    typeof v === 'number' && floatKeys.has(key) && Number.isFinite(v) ? marker + renderFloat(v) : v,
  );
  return json.replace(/"\\u0000float:([^"]+)"/g, '$1');
}
