// Guards the endpoints that change state: with API_TOKEN set, a request needs
// `Authorization: Bearer <token>`. Compared in constant time (on digests, so
// the length of the token does not leak either).
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';

const digest = (text: string) => createHash('sha256').update(text).digest();

export function tokenMatches(expected: string, given: string): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}

/** A middleware that lets a request through only with the token (or always, when no token is set). */
export function requireToken(token: string | undefined): Koa.Middleware {
  return async (ctx, next) => {
    if (token !== undefined) {
      const given = /^Bearer\s+(.+)$/i.exec(ctx.get('Authorization'))?.[1]?.trim() ?? '';
      if (!tokenMatches(token, given)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="loadstar"');
        ctx.status = 401;
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({
          error: given
            ? 'the API token is wrong'
            : 'this endpoint needs the API token: Authorization: Bearer <API_TOKEN>',
        });
        return;
      }
    }
    await next();
  };
}
