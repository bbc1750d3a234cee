// Reads an operator's file of rules or sources: JSON when it ends in .json,
// YAML otherwise (YAML is a superset of JSON), and checks it field by field
// (Entry). Every refusal is a FileError naming the file, the entry and the field.
import { readFileSync } from 'node:fs';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parse,
  parseDocument,
} from 'yaml';
import { LoadstarError } from '../../proto/errors.ts';
import { quoteName } from '../../proto/sample.ts';
import { DURATION_FORMS, parseDuration } from './config.ts';

/** Where a refusal points: the file, the line (when the file was read here) and the field's path. */
export interface FilePlace {
  file?: string;
  line?: number;
  field?: string;
}

/** A file that cannot be read, parsed or used (code `bad_file`); the one error of this module and its validators. */
export class FileError extends LoadstarError {
  readonly file?: string;
  readonly line?: number;
  readonly field?: string;

  constructor(message: string, place: FilePlace = {}) {
    super('bad_file', message);
    this.name = 'FileError';
    this.file = place.file;
    this.line = place.line;
    this.field = place.field;
  }
}

/** The lines of the mappings and lists read from a file, by the object read: Entry's errors use them. */
const lines = new WeakMap<object, { file: string; line: number; keys: Map<string, number> }>();

function recordLines(file: string, node: unknown, value: unknown, counter: LineCounter): void {
  if (value === null || typeof value !== 'object' || isAlias(node)) return;
  const at = (n: Node | null | undefined) =>
    n?.range ? counter.linePos(n.range[0]).line : undefined;
  const keys = new Map<string, number>();
  if (isMap(node) && !Array.isArray(value)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const line = at(pair.key);
      if (line !== undefined) keys.set(key, line);
      recordLines(file, pair.value, (value as Record<string, unknown>)[key], counter);
    }
  } else if (isSeq(node) && Array.isArray(value)) {
    node.items.forEach((item, i) => {
      const line = at(item as Node);
      if (line !== undefined) keys.set(String(i), line);
      recordLines(file, item, value[i], counter);
    });
  } else return;
  lines.set(value, { file, line: at(node as Node) ?? 1, keys });
}

export function readStructuredFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FileError(
      `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { file: path },
    );
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parse(text);
  } catch (err) {
    throw new FileError(
      `${path}: is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
      { file: path },
    );
  }
  // Read again as a document, for the lines only: JSON is YAML, so this serves both.
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  if (doc.errors.length === 0) recordLines(path, doc.contents, value, counter);
  return value;
}

/** A value as an operator reads it in a refusal: `a string ('often')`, `a list`, `the number 3`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `a string (${quoteName(value)})`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The error class a validator refuses with: FileError or one that only names it. */
export type FileErrorClass = new (message: string, place?: FilePlace) => FileError;

export interface EntryOptions {
  /** This mapping's place inside the entry, as `metrics[0].`. */
  prefix?: string;
  /** The class of the errors thrown (default FileError). */
  error?: FileErrorClass;
  /** Ends each refusal with the file and line when known (default true). */
  showLine?: boolean;
}

/**
 * One mapping of a file, read field by field: each accessor checks its field
 * and, when it is wrong, throws an error naming the entry (`where`), the field's
 * path and, for a file read by readStructuredFile, the file and line.
 */
export class Entry {
  private readonly prefix: string;
  private readonly error: FileErrorClass;
  private readonly showLine: boolean;

  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    /** The entry, as `/etc/loadstar/sources.yaml: sources[1] 'node-a'` or `rules[0] 'cpu-high'`. */
    readonly where: string,
    options: EntryOptions = {},
  ) {
    this.prefix = options.prefix ?? '';
    this.error = options.error ?? FileError;
    this.showLine = options.showLine ?? true;
  }

  /** Where a key of this mapping is: its file and line (the mapping's when the key is absent). */
  placeOf(key?: string): FilePlace {
    const known = lines.get(this.raw);
    if (!known) return {};
    return { file: known.file, line: (key && known.keys.get(key)) || known.line };
  }

  /** Refuses the entry as a whole: `where: problem`. */
  refuse(problem: string): never {
    throw this.errorAt(`${this.where}: ${problem}`, undefined);
  }

  /** Refuses one field: `where: field 'prefix.key' problem`. */
  fail(key: string, problem: string): never {
    const field = `${this.prefix}${key}`;
    throw this.errorAt(`${this.where}: field '${field}' ${problem}`, key, field);
  }

  private errorAt(message: string, key: string | undefined, field?: string): FileError {
    // `a.b[2]`: the line of its first part, the key of this mapping.
    const place = this.placeOf(key?.split(/[.[]/)[0]);
    const suffix =
      this.showLine && place.line !== undefined ? ` (${place.file} line ${place.line})` : '';
    return new this.error(`${message}${suffix}`, { ...place, field });
  }

  /** The field's value; YAML's empty value (null) counts as absent. */
  value(key: string): unknown {
    return Object.hasOwn(this.raw, key) && this.raw[key] !== null ? this.raw[key] : undefined;
  }

  has(key: string): boolean {
    return this.value(key) !== undefined;
  }

  keys(): string[] {
    return Object.keys(this.raw);
  }

  /**
   * Refuses keys not in `known`: a misspelt key would otherwise be silently
   * ignored. `what` says what a key must be (default: `a known field (known: …)`).
   */
  checkKnown(known: Iterable<string>, what?: string): void {
    const list = [...known];
    for (const key of Object.keys(this.raw)) {
      if (!list.includes(key))
        this.fail(
          key,
          `is not ${what === undefined ? `a known field (known: ${list.join(', ')})` : `${what} (${list.join(', ')})`}`,
        );
    }
  }

  optionalString(key: string, pattern?: RegExp, rule?: string): string | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    // YAML reads `metric: 1` or `mode: 0` as numbers; they are names all the same.
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || text.trim() === '')
      this.fail(key, `is ${describeValue(value)}, expected a non-empty string`);
    if (pattern && !pattern.test(text))
      this.fail(key, `${quoteName(text)} ${rule ?? `does not match ${pattern}`}`);
    return text;
  }

  string(key: string, pattern?: RegExp, rule?: string): string {
    return this.optionalString(key, pattern, rule) ?? this.fail(key, 'is missing');
  }

  number(key: string, fallback: number, limits: { min?: number; max?: number } = {}): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value))
      this.fail(key, `is ${describeValue(value)}, expected a number`);
    if (limits.min !== undefined && value < limits.min)
      this.fail(key, `${value} is below the minimum ${limits.min}`);
    if (limits.max !== undefined && value > limits.max)
      this.fail(key, `${value} is above the maximum ${limits.max}`);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean')
      this.fail(key, `is ${describeValue(value)}, expected true or false`);
    return value;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const value = this.value(key);
    if (value === undefined)
      return fallback ?? this.fail(key, `is missing (one of ${allowed.join(', ')})`);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
      this.fail(key, `is ${describeValue(value)}, expected one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** Seconds, given as a duration (parseDuration: `30`, `500ms`, `30s`, `5m`, `1h`). */
  seconds(key: string, fallback: number, limits: { min: number; max: number }): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) this.fail(key, `is ${describeValue(value)}, expected ${DURATION_FORMS}`);
    // A number is seconds already: dividing its milliseconds back would round 0.07 to 0.07000000000000001.
    const seconds = typeof value === 'number' ? value : ms / 1000;
    if (seconds < limits.min || seconds > limits.max)
      this.fail(key, `${String(value)} is not between ${limits.min} s and ${limits.max} s`);
    return seconds;
  }

  /** A mapping's fields, in the file's order; undefined when absent. */
  mapping(key: string): [string, unknown][] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!isMapping(value)) this.fail(key, `is ${describeValue(value)}, expected a mapping`);
    return Object.entries(value);
  }

  /** A list of mappings, each as an Entry naming its place (`metrics[2].`). */
  entries(key: string): Entry[] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(key, `is ${describeValue(value)}, expected a list`);
    return value.map((item: unknown, i) => {
      if (!isMapping(item))
        this.fail(`${key}[${i}]`, `is ${describeValue(item)}, expected a mapping`);
      return new Entry(item, this.where, {
        prefix: `${this.prefix}${key}[${i}].`,
        error: this.error,
        showLine: this.showLine,
      });
    });
  }
}
