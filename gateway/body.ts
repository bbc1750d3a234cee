// Reads the small JSON bodies of the gateway's few writes (silences,
// acknowledgements): JSON only, at most 16 KiB, within 10 s. No body at all is
// `undefined`, so that a write whose fields are all optional needs none.
import type Koa from 'koa';
import { readBody, requireJson } from '../deploy/runtime/body.ts';
import { InputError } from '../proto/sample.ts';

const LIMIT_BYTES = 16_384;
const DEADLINE_MS = 10_000;

export async function readJsonBody(ctx: Koa.Context): Promise<unknown> {
  const chunked = ctx.get('Transfer-Encoding') !== '';
  if (!chunked && (ctx.request.length ?? 0) === 0) return undefined;
  requireJson(ctx);
  const text = await readBody(ctx, LIMIT_BYTES, DEADLINE_MS);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`body is not JSON: ${(err as Error).message}`);
  }
}
