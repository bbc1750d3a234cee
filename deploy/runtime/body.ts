// Reads a request body within a size limit and a deadline. A body that is too
// large, too slow or not UTF-8 is refused before any of it is parsed.
import type Koa from 'koa';
import { InputError } from '../../proto/sample.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function requireJson(ctx: Koa.Context): void {
  const encoding = ctx.get('Content-Encoding');
  if (encoding && encoding !== 'identity') {
    throw new InputError(
      `Content-Encoding ${encoding} is not supported; send plain JSON`,
      415,
      'content_type',
    );
  }
  const type = ctx.get('Content-Type');
  if (!type)
    throw new InputError('Content-Type is missing; send application/json', 415, 'content_type');
  if (!ctx.is('application/json')) {
    throw new InputError(`Content-Type ${type} is not application/json`, 415, 'content_type');
  }
  const charset = /charset=([^;]+)/i.exec(type)?.[1]?.trim().toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new InputError(`charset ${charset} is not supported; send UTF-8`, 415, 'content_type');
  }
}

export async function readBody(
  ctx: Koa.Context,
  limit: number,
  timeoutMs: number,
): Promise<string> {
  const bytes = await readBodyBytes(ctx, limit, timeoutMs);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new InputError('body is not valid UTF-8', 400, 'invalid');
  }
}

/** The body as bytes, for formats that are not text (remote_write's snappy protobuf). */
export async function readBodyBytes(
  ctx: Koa.Context,
  limit: number,
  timeoutMs: number,
): Promise<Buffer> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) {
    ctx.set('Connection', 'close');
    throw new InputError(
      `body of ${declared} bytes is larger than the limit of ${limit} bytes`,
      413,
      'too_large',
    );
  }
  const req = ctx.req;
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      finish(new InputError(`body did not arrive within ${timeoutMs} ms`, 408, 'slow_body'));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish(new InputError(`body is larger than the limit of ${limit} bytes`, 413, 'too_large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) =>
      finish(new InputError(`body could not be read: ${err.message}`, 400, 'aborted'));
    function finish(err?: Error) {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) {
        // Stop reading what is left; the answer closes the connection.
        ctx.set('Connection', 'close');
        req.pause();
        reject(err);
      } else {
        resolve();
      }
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  return Buffer.concat(chunks, size);
}
