// TLS for the services' listeners: the certificate and key files of
// TLS_CERT_FILE and TLS_KEY_FILE, checked at start and re-read when they
// change, so a renewed certificate is served without a restart. Never swaps in
// a pair that does not work: a half-written or mismatched pair keeps the one in use.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError, type Settings } from './config.ts';
import type { Log } from './log.ts';

/** A certificate (chain) and its private key, as read and checked together. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's subject and expiry, for logs and metrics. */
  subject: string;
  notAfterMs: number;
  /** Identity, size and times of both files as read: a change of either is a new version. */
  stamp: string;
}

/** Where a listener's certificate comes from (TLS_CERT_FILE, TLS_KEY_FILE), and the pair read at start. */
export interface ServerTlsSettings {
  certFile: string;
  keyFile: string;
  pair: CertificatePair;
}

/** How often the files are looked at; a renewal is served within about this long. */
const CHECK_EVERY_MS = 1_000;

function stampOf(info: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** What is wrong with a pair, naming the setting whose file is at fault. */
class PairError extends Error {
  constructor(
    readonly setting: 'TLS_CERT_FILE' | 'TLS_KEY_FILE',
    message: string,
  ) {
    super(message);
  }
}

/** Checks that the two files make a pair Node can serve; throws a PairError naming the file at fault. */
function checkPair(
  files: { certFile: string; keyFile: string },
  cert: Buffer,
  key: Buffer,
  stamp: string,
): CertificatePair {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new PairError('TLS_CERT_FILE', `${files.certFile} holds no PEM certificate`);
  }
  try {
    createPrivateKey(key);
  } catch {
    throw new PairError(
      'TLS_KEY_FILE',
      `${files.keyFile} holds no private key (PEM, unencrypted) that can be read`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new PairError(
      'TLS_KEY_FILE',
      `${files.keyFile} is not the key of the certificate in ${files.certFile} (${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')})`,
    );
  }
  return {
    cert,
    key,
    subject: leaf.subject.replace(/\n/g, ', '),
    notAfterMs: Date.parse(leaf.validTo),
    stamp,
  };
}

function readFileFor(setting: 'TLS_CERT_FILE' | 'TLS_KEY_FILE', path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

/**
 * The listener's TLS settings when `url` is https:// (`urlSetting` names it);
 * undefined for http://. The files are read and checked here, so a missing,
 * unreadable or mismatched one stops the service at start.
 */
export function readServerTls(
  s: Settings,
  urlSetting: string,
  url: URL,
): ServerTlsSettings | undefined {
  const certFile = s.optionalString('TLS_CERT_FILE');
  const keyFile = s.optionalString('TLS_KEY_FILE');
  if (url.protocol !== 'https:') return undefined;
  if (certFile === undefined)
    throw new ConfigError('TLS_CERT_FILE', `is needed: ${urlSetting} is https://`);
  if (keyFile === undefined)
    throw new ConfigError('TLS_KEY_FILE', `is needed: ${urlSetting} is https://`);
  const cert = readFileFor('TLS_CERT_FILE', certFile);
  const key = readFileFor('TLS_KEY_FILE', keyFile);
  const stamp = `${stampOf(statSync(certFile))}|${stampOf(statSync(keyFile))}`;
  try {
    return { certFile, keyFile, pair: checkPair({ certFile, keyFile }, cert, key, stamp) };
  } catch (err) {
    if (err instanceof PairError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
}

/**
 * Keeps a listener's certificate current: looks at both files once a second
 * (by polling their stat, which follows symlinks: fs.watch loses a file
 * replaced by rename, and certbot swaps symlinks) and, when either changed,
 * reads and checks the new pair before handing it to the listeners.
 */
export class CertificateWatcher {
  private current: CertificatePair;
  private refusedStamp = '';
  private readonly listeners = new Set<(pair: CertificatePair) => void>();
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly settings: ServerTlsSettings,
    private readonly log: Log,
    private readonly checkEveryMs = CHECK_EVERY_MS,
  ) {
    this.current = settings.pair;
  }

  /** The pair in use. */
  get pair(): CertificatePair {
    return this.current;
  }

  /** Calls `listener` with each new pair; returns how to stop. */
  onChange(listener: (pair: CertificatePair) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.timer) return;
    const daysLeft = (this.current.notAfterMs - Date.now()) / 86_400_000;
    if (daysLeft < 14) {
      this.log.warn(daysLeft < 0 ? 'TLS certificate has expired' : 'TLS certificate expires soon', {
        file: this.settings.certFile,
        subject: this.current.subject,
        not_after: new Date(this.current.notAfterMs).toISOString(),
      });
    }
    this.timer = setInterval(() => void this.check(), this.checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** Looks at the files once; a new, working pair replaces the one in use. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.reload();
    } finally {
      this.checking = false;
    }
  }

  private async reload(): Promise<void> {
    const { certFile, keyFile } = this.settings;
    let stamp: string;
    let cert: Buffer;
    let key: Buffer;
    try {
      const [certInfo, keyInfo] = await Promise.all([stat(certFile), stat(keyFile)]);
      stamp = `${stampOf(certInfo)}|${stampOf(keyInfo)}`;
      if (stamp === this.current.stamp) {
        // Readable again as it was (a file put back): a later failure is news again.
        this.refusedStamp = '';
        return;
      }
      if (stamp === this.refusedStamp) return;
      [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    } catch (err) {
      // Between the removal of an old file and the arrival of the new one: the next look sees it.
      if (this.refusedStamp !== 'unreadable') {
        this.log.error('TLS certificate or key cannot be read; serving the one in use', {
          error: (err as Error).message,
        });
      }
      this.refusedStamp = 'unreadable';
      return;
    }
    let pair: CertificatePair;
    try {
      pair = checkPair(this.settings, cert, key, stamp);
    } catch (err) {
      // Often the certificate is written before its key: the key's arrival changes the stamp again.
      this.refusedStamp = stamp;
      this.log.error('new TLS certificate or key refused; serving the one in use', {
        error: (err as Error).message,
      });
      return;
    }
    this.refusedStamp = '';
    this.current = pair;
    for (const listener of this.listeners) listener(pair);
    this.log.info('TLS certificate re-read', {
      file: certFile,
      subject: pair.subject,
      not_after: new Date(pair.notAfterMs).toISOString(),
    });
  }
}
