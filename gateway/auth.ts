// Who may use the gateway: with API_TOKEN set, the endpoints that change state
// need `Authorization: Bearer <API_TOKEN>`; with READ_TOKENS set, everything
// that holds data needs one of them (or API_TOKEN). Compared in constant time
// (deploy/runtime/tokens.ts, on digests, so the length of a token does not leak either).
import type Koa from 'koa';
import {
  BEARER_CHALLENGE,
  bearerToken,
  refuseUnauthorized,
  type TokenSet,
  tokenMatches,
} from '../deploy/runtime/tokens.ts';

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
          code: 'unauthorized',
        });
        return;
      }
    }
    await next();
  };
}

/** Who may read the gateway (READ_TOKENS; API_TOKEN reads too), and what is open to anyone. */
export interface ReadAccess {
  /** The path of WEB_SERVER_URL, ending in '/'. */
  base: string;
  readTokens?: TokenSet;
  apiToken?: string;
}

/** The challenge of a read refused: `scope="read"` tells the dashboard to ask for a read token. */
export const READ_CHALLENGE = `${BEARER_CHALLENGE}, scope="read"`;

/** Why a read token was refused, or undefined when `given` may read. */
export function readRefusal(access: ReadAccess, given: string): string | undefined {
  if (!access.readTokens) return undefined;
  // Both are compared whatever the first says, so the time taken tells nothing.
  const asReader = access.readTokens.matches(given);
  const asAdmin = access.apiToken !== undefined && tokenMatches(access.apiToken, given);
  if (asReader || asAdmin) return undefined;
  return given
    ? 'the read token is not known to this gateway (revoked, or mistyped)'
    : 'reading this gateway needs a read token: Authorization: Bearer <token> (the gateway has READ_TOKENS set)';
}

/**
 * With READ_TOKENS set, lets a request through only with one of them (or
 * API_TOKEN) as its bearer token, except what holds no data: /healthz,
 * /readyz (probes carry no token), /metrics (METRICS_TOKEN's), the API
 * document and its page, and the dashboard's page and files (the page asks for
 * the token, and then sends it with every request for data). EventSource
 * cannot send headers: a request for text/event-stream may carry the token as
 * `?token=`, which is taken out of the query before any route sees it.
 */
export function guardReads(access: ReadAccess, wantsDashboard: (ctx: Koa.Context) => boolean) {
  const { base } = access;
  const open = new Set([
    `${base}healthz`,
    `${base}readyz`,
    `${base}metrics`,
    `${base}openapi.json`,
  ]);
  const openUnder = [`${base}docs`, `${base}dashboard/`];
  const middleware: Koa.Middleware = async (ctx, next) => {
    if (
      !access.readTokens ||
      open.has(ctx.path) ||
      openUnder.some((prefix) => ctx.path.startsWith(prefix)) ||
      (ctx.path === base && wantsDashboard(ctx))
    ) {
      await next();
      return;
    }
    let given = bearerToken(ctx.get('Authorization'));
    if (given === '' && /\btext\/event-stream\b/.test(ctx.get('Accept'))) {
      const inQuery = ctx.query.token;
      given = typeof inQuery === 'string' ? inQuery : '';
      if (inQuery !== undefined) {
        const rest = new URLSearchParams(ctx.querystring);
        rest.delete('token');
        ctx.querystring = rest.toString();
      }
    }
    const refusal = readRefusal(access, given);
    if (refusal) {
      refuseUnauthorized(
        ctx,
        given ? `${READ_CHALLENGE}, error="invalid_token"` : READ_CHALLENGE,
        refusal,
      );
      return;
    }
    await next();
  };
  return middleware;
}
