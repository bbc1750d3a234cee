// Reads an operator's file of rules or sources: JSON when it ends in .json,
// YAML otherwise (YAML is a superset of JSON). Errors name the file and line.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export class FileError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'FileError';
  }
}

export function readStructuredFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FileError(
      path,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parse(text);
  } catch (err) {
    throw new FileError(
      path,
      `is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}
