// Certificates for TLS tests, made with openssl in a temp dir of their own: a
// CA, and server certificates it signs for 127.0.0.1, ::1 and localhost. Each
// call makes new keys; nothing is kept after the test removes the dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  certFile: string;
  keyFile: string;
}

export interface TestCa {
  dir: string;
  /** The CA's certificate, for TLS_CA_FILE and curl --cacert. */
  caFile: string;
  /** A server certificate for the loopback addresses and localhost, signed by the CA. */
  issue(name: string): Issued;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA in a temp dir; `issue` signs server certificates with it. */
export function makeTestCa(label = 'loadstar test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      `/CN=${label}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
    ].join('\n'),
  );
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    issue(name) {
      openssl(
        ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-CAserial',
          'ca.srl',
          '-days',
          '2',
          '-extfile',
          'server.ext',
          '-out',
          `${name}.pem`,
        ],
        dir,
      );
      return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
