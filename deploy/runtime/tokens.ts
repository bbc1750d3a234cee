// Bearer tokens, shared by the receiver (INGEST_TOKENS), the gateway (API_TOKEN,
// READ_TOKENS) and every service's /metrics (METRICS_TOKEN): reads the token of
// an Authorization header and compares tokens in constant time. Never compares
// raw strings: their length and first difference would leak.
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { ConfigError, type Settings } from './config.ts';

/** RFC 6750's token characters; no ':' (INGEST_TOKENS' host:token) and no ',' (lists). */
export const TOKEN = /^[A-Za-z0-9._~+/=-]+$/;
/** A shorter token could be guessed; operators make one with `openssl rand -hex 32`. */
export const MIN_TOKEN_LENGTH = 16;

/** A token's SHA-256: what is kept and compared, so every comparison takes the same time. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function digestsMatch(expected: Buffer, given: Buffer): boolean {
  return timingSafeEqual(expected, given);
}

export function tokenMatches(expected: string, given: string): boolean {
  return digestsMatch(tokenDigest(expected), tokenDigest(given));
}

/** The token of `Authorization: Bearer <token>`; '' when the header is missing or not Bearer. */
export function bearerToken(authorization: string): string {
  return /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim() ?? '';
}

/** The challenge a 401 carries (RFC 6750), so a client knows which scheme is asked. */
export const BEARER_CHALLENGE = 'Bearer realm="loadstar"';

/** What is wrong with a token as an operator wrote it, or undefined when it will do. */
export function tokenProblem(token: string): string | undefined {
  if (!TOKEN.test(token)) return 'the token is empty or has characters outside [A-Za-z0-9._~+/=-]';
  if (token.length < MIN_TOKEN_LENGTH)
    return `the token is shorter than ${MIN_TOKEN_LENGTH} characters; make one with openssl rand -hex 32`;
  return undefined;
}

/** Tokens of which any one lets a request in, kept only as digests. */
export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(tokenDigest);
  }

  get size(): number {
    return this.digests.length;
  }

  /**
   * Whether `given` is one of the tokens. Every token is compared, so the time
   * taken says nothing of which one, or how much of one, matched.
   */
  matches(given: string): boolean {
    const digest = tokenDigest(given);
    let found = false;
    for (const expected of this.digests) found = digestsMatch(expected, digest) || found;
    return found && given !== '';
  }
}

/** A comma separated list of tokens (as READ_TOKENS); undefined when the setting is empty. */
export function readTokenSet(s: Settings, name: string): TokenSet | undefined {
  const text = s.optionalString(name);
  if (text === undefined) return undefined;
  const tokens = text.split(',').map((t) => t.trim());
  tokens.forEach((token, i) => {
    const problem = tokenProblem(token);
    if (problem) throw new ConfigError(name, `entry ${i + 1}: ${problem}`);
  });
  return new TokenSet(tokens);
}

/** Answers 401 with the challenge and a JSON error saying what the request lacks. */
export function refuseUnauthorized(ctx: Koa.Context, challenge: string, error: string): void {
  ctx.set('WWW-Authenticate', challenge);
  ctx.status = 401;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify({ error, code: 'unauthorized' });
}

/**
 * Guards `/metrics` when METRICS_TOKEN is set (its own token: a Prometheus
 * server is given only that one); open without it, as Prometheus expects.
 */
export function metricsGuard(token: TokenSet | undefined): Koa.Middleware {
  return async (ctx, next) => {
    if (token) {
      const given = bearerToken(ctx.get('Authorization'));
      if (!token.matches(given)) {
        refuseUnauthorized(
          ctx,
          given
            ? `${BEARER_CHALLENGE}, scope="metrics", error="invalid_token"`
            : `${BEARER_CHALLENGE}, scope="metrics"`,
          given
            ? 'the metrics token is wrong'
            : 'metrics need the metrics token: Authorization: Bearer <METRICS_TOKEN>',
        );
        return;
      }
    }
    await next();
  };
}
