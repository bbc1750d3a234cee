// Whom the agent and the services trust as TLS servers (receivers, webhooks,
// Alertmanagers): the system's CAs and, when TLS_CA_FILE names one, the
// operator's own CA file, re-read when it changes. Never trusts less than the
// system does: the file adds to the system's CAs, it does not replace them.
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { ConfigError, type Settings } from './config.ts';

/** TLS_CA_FILE as read and checked at start. */
export interface TrustSettings {
  caFile: string;
  /** The file's PEM certificates. */
  pem: string;
  /** Identity, size and times of the file as read, to notice a new version. */
  stamp: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** How often the file may be looked at for a change (a new CA is trusted within this). */
const CHECK_EVERY_MS = 1_000;

function stampOf(info: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** The certificates of a PEM text; an error naming the file when it holds none. */
function certificatesIn(text: string, path: string): string {
  const found = text.match(PEM_CERTIFICATE);
  if (!found) throw new Error(`${path} holds no PEM certificate`);
  return found.join('\n');
}

/** TLS_CA_FILE, read and checked; undefined when it is not set (the system's CAs alone). */
export function readTrustSettings(s: Settings): TrustSettings | undefined {
  const caFile = s.optionalString('TLS_CA_FILE');
  if (caFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'TLS_CA_FILE',
      `cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  try {
    const pem = certificatesIn(text, caFile);
    contextOf(pem);
    return { caFile, pem, stamp: stampOf(statSync(caFile)) };
  } catch (err) {
    throw new ConfigError('TLS_CA_FILE', (err as Error).message);
  }
}

/** The CAs to verify a server with, as a secure context for a TLS connection's options. */
export class Trust {
  private stamp: string;
  private checkedAt = Date.now();
  private context: SecureContext;
  private lastError = '';

  constructor(
    private readonly settings: TrustSettings,
    private readonly onError: (message: string) => void = () => {},
  ) {
    this.stamp = settings.stamp;
    this.context = contextOf(settings.pem);
  }

  /**
   * A context trusting the system's CAs and the file's, for `secureContext` in
   * the options of `https.request` or `tls.connect`; built once per version of
   * the file (parsing the system's 140-odd CAs per connection would cost
   * milliseconds each). A changed file is re-read (looked at once a second at
   * most); one that cannot be read keeps the CAs read before.
   */
  async secureContext(): Promise<SecureContext> {
    const now = Date.now();
    if (now - this.checkedAt < CHECK_EVERY_MS) return this.context;
    this.checkedAt = now;
    const path = this.settings.caFile;
    try {
      const stamp = stampOf(await stat(path));
      if (stamp === this.stamp) return this.context;
      this.context = contextOf(certificatesIn(await readFile(path, 'utf8'), path));
      this.stamp = stamp;
      this.lastError = '';
    } catch (err) {
      const message = `TLS_CA_FILE: ${(err as Error).message}; keeping the CAs read before`;
      if (message !== this.lastError) this.onError(message);
      this.lastError = message;
    }
    return this.context;
  }
}

/** `ca` alone would replace the system's CAs: both are given. */
function contextOf(pem: string): SecureContext {
  return createSecureContext({ ca: [...rootCertificates, pem] });
}
