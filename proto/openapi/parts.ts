// The small constructors the document is written with, and how an operation
// is placed: at which path, for which service. Builds objects only.
import type {
  Example,
  MediaType,
  Method,
  Operation,
  Parameter,
  Reference,
  Response,
  Schema,
} from './oas.ts';

export type Service = 'gateway' | 'receiver';

/** One operation at one path, and which services answer it there. */
export interface Placed {
  path: string;
  method: Method;
  services: Service[];
  operation: Operation;
}

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const param = (name: string): Reference => ({ $ref: `#/components/parameters/${name}` });
export const nullable = (type: 'string' | 'number' | 'integer'): Schema => ({
  type: [type, 'null'],
});
export const isoTime: Schema = { type: 'string', format: 'date-time' };
export const epochMs: Schema = { type: 'integer', description: 'epoch milliseconds' };

export function json(
  schema: Schema,
  examples?: Record<string, Example>,
): Record<string, MediaType> {
  return { 'application/json': { schema, ...(examples && { examples }) } };
}

export function ok(
  description: string,
  schema: Schema,
  examples: Record<string, Example>,
): Response {
  return { description, content: json(schema, examples) };
}

/** An error answer; each example is [summary, the service's own message for it]. */
export function fails(description: string, cases: Record<string, [string, string]>): Response {
  const examples: Record<string, Example> = {};
  for (const [name, [summary, error]] of Object.entries(cases))
    examples[name] = { summary, value: { error } };
  return { description, content: json(ref('Error'), examples) };
}

export function unavailable(cases: Record<string, [string, string]>): Response {
  return {
    ...fails(
      'A dependency (NATS or Redis) is away; nothing was done. Retry after Retry-After.',
      cases,
    ),
    headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
  };
}

export const redisAway = unavailable({
  redisAway: [
    'Redis does not answer',
    "Redis is not answering (Stream isn't writeable and enableOfflineQueue options is false); retry later",
  ],
});

export function query(
  name: string,
  description: string,
  schema: Schema,
  example?: unknown,
  required = false,
): Parameter {
  return {
    name,
    in: 'query',
    description,
    schema,
    ...(required && { required }),
    ...(example !== undefined && { example }),
  };
}

export function header(
  name: string,
  description: string,
  schema: Schema,
  example: string,
): Parameter {
  return { name, in: 'header', description, schema, example };
}
