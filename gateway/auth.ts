// Guards the endpoints that change state: with API_TOKEN set, a request needs
// `Authorization: Bearer <token>`. Compared in constant time (proto/tokens.ts,
// on digests, so the length of the token does not leak either).
import type Koa from 'koa';
import { BEARER_CHALLENGE, bearerToken, tokenMatches } from '../proto/tokens.ts';

/** A middleware that lets a request through only with the token (or always, when no token is set). */
export function requireToken(token: string | undefined): Koa.Middleware {
  return async (ctx, next) => {
    if (token !== undefined) {
      const given = bearerToken(ctx.get('Authorization'));
      if (!tokenMatches(token, given)) {
        ctx.set('WWW-Authenticate', BEARER_CHALLENGE);
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
