// Name patterns as operators write them in rules, routes and silences: `web-*`
// and `db-0?` as shell globs, `/^db[0-9]+$/` as a regular expression, anything
// else as the exact name.

/** The pattern as a RegExp; throws a SyntaxError for a bad regular expression. */
export function namePattern(text: string): RegExp {
  if (text.length > 2 && text.startsWith('/') && text.endsWith('/'))
    return new RegExp(text.slice(1, -1));
  const escaped = text
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`);
}
