// PromQL's regular expressions (Go's RE2, anchored at both ends) on V8's
// linear-time engine: a query can never make the gateway backtrack for minutes
// (RE2 guarantees linear time, and so does this). What the two engines would
// read differently is translated, or refused; never read some other way.
import { setFlagsFromString } from 'node:v8';
import { LoadstarError } from '../../proto/errors.ts';

// The `l` flag (linear time, no backtracking) needs this V8 flag; it changes nothing else.
setFlagsFromString('--enable-experimental-regexp-engine');

/** A regular expression loadstar will not evaluate; the reason says why. */
export class RegexpError extends LoadstarError {
  constructor(message: string) {
    super('bad_query', message);
  }
}

/** RE2's `.`: one code point, anything but a newline (V8 without the u flag counts UTF-16 units). */
const ANY = '(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^\\n])';

/** A test of a whole label value against an RE2 expression. */
export function compileRegexp(source: string): (value: string) => boolean {
  let text = source;
  // RE2's flag group at the start; V8's linear engine has no case folding, so values are lowered.
  let caseless = false;
  if (text.startsWith('(?i)')) {
    text = text.slice(4);
    caseless = true;
  }
  text = text.replace(/\(\?P</g, '(?<');
  let out = '';
  let inClass = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const e = text[++i]!;
      if (e === 'p' || e === 'P')
        throw new RegexpError('Unicode classes (\\p, \\P) are not supported');
      if (caseless && /[xu0-7]/.test(e))
        throw new RegexpError('numeric escapes are not supported together with (?i)');
      // RE2 lets any punctuation be escaped; V8's syntax check only allows syntax characters.
      if (/[!-/:-@[-`{-~]/.test(e) && !/[\^$\\.*+?()[\]{}|/]/.test(e) && !(inClass && e === '-'))
        out += e;
      else out += `\\${e}`;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    if (c === '.' && !inClass) out += ANY;
    else out += caseless ? c.toLowerCase() : c;
  }
  // The strict (unicode) syntax check refuses what V8 would otherwise read as literals (\A, \z, \Q).
  try {
    new RegExp(out, 'u');
  } catch (err) {
    throw new RegexpError((err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(`^(?:${out})$`, 'l');
  } catch (err) {
    throw new RegexpError(
      /linear time/.test((err as Error).message)
        ? 'lookarounds and backreferences are not supported (RE2 has neither)'
        : (err as Error).message,
    );
  }
  return caseless ? (value) => compiled.test(value.toLowerCase()) : (value) => compiled.test(value);
}
