// Who may post samples: with INGEST_TOKENS or INGEST_TOKENS_FILE set, every
// ingest request needs `Authorization: Bearer <token>`, and a token bound to a
// host writes only that host's samples. Never lets a request through on a doubt.
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Log } from '../deploy/runtime/log.ts';
import {
  BEARER_CHALLENGE,
  bearerToken,
  digestsMatch,
  tokenDigest,
  tokenProblem,
} from '../deploy/runtime/tokens.ts';
import { HOST_NAME, InputError, quoteName } from '../proto/sample.ts';

/** The host part of an entry that lets its token write samples of any host. */
export const ANY_HOST = '*';

/** How often a request may look at INGEST_TOKENS_FILE for changes (a revocation lands within this). */
const FILE_CHECK_MS = 1_000;

/** One `host:token` entry, the token kept only as its digest. */
export interface TokenEntry {
  /** The host this token may write, or ANY_HOST. */
  host: string;
  digest: Buffer;
}

export interface TokenFile {
  path: string;
  entries: TokenEntry[];
  /** Identity, size and change time as read, to notice a new version of the file. */
  stamp: string;
}

/** Who may post (INGEST_TOKENS, INGEST_TOKENS_FILE); without either, anyone may. */
export interface AccessSettings {
  tokens: TokenEntry[];
  file?: TokenFile;
}

/**
 * Parses `host:token` entries, separated by commas (INGEST_TOKENS) or by lines
 * (INGEST_TOKENS_FILE, where blank lines and `#` comments are skipped). The
 * host is a host name or `*`; it may hold ':' (an IPv6 address), a token may not,
 * so the last ':' separates them. Errors name the entry, never the token.
 */
export function parseTokenEntries(text: string, by: 'comma' | 'line'): TokenEntry[] {
  const items =
    by === 'comma'
      ? text.split(',').map((item, i) => ({ item: item.trim(), where: `entry ${i + 1}` }))
      : text.split(/\r?\n/).map((item, i) => ({ item: item.trim(), where: `line ${i + 1}` }));
  const entries: TokenEntry[] = [];
  for (const { item, where } of items) {
    if (item === '' || (by === 'line' && item.startsWith('#'))) continue;
    const colon = item.lastIndexOf(':');
    if (colon <= 0) throw new Error(`${where} is not host:token (as web-01:<token> or *:<token>)`);
    const host = item.slice(0, colon);
    const token = item.slice(colon + 1);
    if (host !== ANY_HOST && !HOST_NAME.test(host)) {
      throw new Error(`${where}: ${quoteName(host)} is not a host name or *`);
    }
    const problem = tokenProblem(token);
    if (problem) throw new Error(`${where} (host ${host}): ${problem}`);
    entries.push({ host, digest: tokenDigest(token) });
  }
  return entries;
}

/** Reads INGEST_TOKENS_FILE at start; a missing, unreadable or empty file is an error. */
export function readTokenFile(path: string): TokenFile {
  const info = statSync(path);
  const entries = parseTokenEntries(readFileSync(path, 'utf8'), 'line');
  if (entries.length === 0) throw new Error(`${path} names no token`);
  return { path, entries, stamp: stampOf(info) };
}

function stampOf(info: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** What an authorized request may write. */
export class Grant {
  /** `hosts` null: any host. */
  constructor(private readonly hosts: ReadonlySet<string> | null) {}

  allows(host: string): boolean {
    return this.hosts === null || this.hosts.has(host);
  }

  /** Refuses (403) a sample of a host this token is not bound to; `where` says where the host came from. */
  check(host: string, where: string): void {
    if (this.allows(host)) return;
    const bound = [...this.hosts!].sort();
    const list = bound.length > 5 ? `${bound.slice(0, 5).join(', ')}, …` : bound.join(', ');
    throw new InputError(
      `this ingest token may write samples of ${list} only, not of host ${quoteName(host)} (${where})`,
      403,
      'forbidden',
    );
  }
}

const ANYONE = new Grant(null);

export class IngestAccess {
  private fileEntries: TokenEntry[];
  private stamp: string;
  private checkedAt: number;
  private checking?: Promise<void>;

  constructor(
    private readonly settings: AccessSettings,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {
    this.fileEntries = settings.file?.entries ?? [];
    this.stamp = settings.file?.stamp ?? '';
    this.checkedAt = now();
  }

  /** Whether ingest needs a token at all. */
  get required(): boolean {
    return this.settings.tokens.length > 0 || this.settings.file !== undefined;
  }

  /**
   * The grant of the request's bearer token; a 401 without a known one. Every
   * entry is compared (on digests, in constant time), so the answer's timing
   * says nothing of which entry or how much of a token matched.
   */
  async authorize(ctx: { get(field: string): string; set(field: string, value: string): void }) {
    if (!this.required) return ANYONE;
    if (this.settings.file) await this.checkFile(this.settings.file.path);
    const given = bearerToken(ctx.get('Authorization'));
    const digest = tokenDigest(given);
    const hosts = new Set<string>();
    for (const entry of [...this.settings.tokens, ...this.fileEntries]) {
      if (digestsMatch(entry.digest, digest)) hosts.add(entry.host);
    }
    if (given === '' || hosts.size === 0) {
      ctx.set('WWW-Authenticate', BEARER_CHALLENGE);
      throw new InputError(
        given === ''
          ? 'posting samples needs an ingest token: Authorization: Bearer <token> (the receiver has INGEST_TOKENS set)'
          : 'the ingest token is not known to this receiver (revoked, or mistyped)',
        401,
        'unauthorized',
      );
    }
    return hosts.has(ANY_HOST) ? ANYONE : new Grant(hosts);
  }

  /** Re-reads INGEST_TOKENS_FILE when it changed; looks at most once a second. */
  private async checkFile(path: string): Promise<void> {
    if (this.now() - this.checkedAt < FILE_CHECK_MS) return;
    this.checking ??= this.reload(path).finally(() => {
      this.checking = undefined;
    });
    await this.checking;
  }

  private async reload(path: string): Promise<void> {
    this.checkedAt = this.now();
    let stamp: string;
    let text: string;
    try {
      stamp = stampOf(await stat(path));
      if (stamp === this.stamp) return;
      text = await readFile(path, 'utf8');
    } catch (err) {
      // Keeping the tokens read before never opens ingest up, and a file being replaced is briefly missing.
      if (this.stamp !== 'unreadable') {
        this.log.error('INGEST_TOKENS_FILE cannot be read; keeping the tokens read before', {
          file: path,
          error: (err as Error).message,
        });
      }
      this.stamp = 'unreadable';
      return;
    }
    this.stamp = stamp;
    try {
      this.fileEntries = parseTokenEntries(text, 'line');
    } catch (err) {
      this.log.error('INGEST_TOKENS_FILE has a bad entry; keeping the tokens read before', {
        file: path,
        error: (err as Error).message,
      });
      return;
    }
    this.log.info('ingest tokens re-read', { file: path, tokens: this.fileEntries.length });
  }
}
