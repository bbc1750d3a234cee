// Bearer tokens, shared by the receiver (INGEST_TOKENS) and the gateway (API_TOKEN):
// reads the token of an Authorization header and compares tokens in constant time.
// Never compares raw strings: their length and first difference would leak.
import { createHash, timingSafeEqual } from 'node:crypto';

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
