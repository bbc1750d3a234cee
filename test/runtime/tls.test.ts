// TLS on every listener, against certificates the harness makes with openssl:
// curl --cacert against the receiver and the gateway, the agent posting with
// TLS_CA_FILE, a gRPC client with TLS credentials, the health listeners of the
// background services, a certificate renewed under running services, and
// handshakes that fail without taking anything down.
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as connectNet } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { ConfigError, Settings } from '../../deploy/runtime/config.ts';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { readTrustSettings, Trust } from '../../deploy/runtime/trust.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import { type RunningAgent, startAgent } from '../../producer/agent.ts';
import { readProducerConfig } from '../../producer/config.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import {
  createLoadstarClient,
  type LatestReply__Output,
  type LoadstarClient,
} from '../../proto/grpc.ts';
import { receiverCommand } from '../../receiver/config.ts';
import { send } from '../../receiver/notifier/delivery.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { type Issued, makeTestCa, type TestCa } from '../harness/certificates.ts';
import { eventually } from '../harness/eventually.ts';
import {
  gatewayOn,
  history,
  notifierOn,
  receiverOn,
  redisClient,
  rulesOn,
  storeOn,
  testEnv,
  uniqueName,
} from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';

const run = promisify(execFile);

interface CurlAnswer {
  /** curl's exit status: 0, or why it failed (60: the certificate is not trusted). */
  exit: number;
  status: number;
  body: string;
  stderr: string;
}

/** curl, as an operator would run it; never throws. */
async function curl(args: string[]): Promise<CurlAnswer> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args]);
    const cut = stdout.lastIndexOf('\n');
    return { exit: 0, status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut), stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string; stdout?: string };
    return { exit: e.code ?? -1, status: 0, body: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The common name of the certificate a TLS port serves (ALPN h2 for gRPC's). */
function servedName(host: string, port: number, caFile: string, alpn?: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls(
      { host, port, ca: readFileSync(caFile), servername: 'localhost', ALPNProtocols: alpn },
      () => {
        const name = socket.getPeerCertificate().subject.CN;
        socket.destroy();
        resolve(String(name));
      },
    );
    socket.on('error', reject);
  });
}

/** Writes `text` on a raw TCP connection and reads until the server closes it. */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectNet(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve(got) : reject(err),
    );
    socket.on('close', () => resolve(got));
  });
}

/** Replaces the served files the way a renewal does: new files renamed over the old. */
function install(issued: Issued, live: Issued): void {
  copyFileSync(issued.keyFile, `${live.keyFile}.new`);
  copyFileSync(issued.certFile, `${live.certFile}.new`);
  renameSync(`${live.keyFile}.new`, live.keyFile);
  renameSync(`${live.certFile}.new`, live.certFile);
}

class CountingSource implements Source {
  readonly name = 'counter';
  count = 0;
  constructor(private readonly host: string) {}
  async collect(): Promise<PartialRecord[]> {
    this.count++;
    return [{ host: this.host, metrics: { seq: this.count } }];
  }
}

function latest(
  client: LoadstarClient,
  topics: string[],
  host: string,
): Promise<LatestReply__Output> {
  return new Promise((resolve, reject) =>
    client.Latest({ topics, host }, (err, reply) => (err ? reject(err) : resolve(reply!))),
  );
}

describe('TLS on every listener', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let first: Issued;
  /** The files the services are told to serve, replaced in place by the renewal test. */
  let live: Issued;
  let tlsEnv: Record<string, string>;
  let receiver: RunningReceiver & { log: ReturnType<typeof createMemoryLog> };
  let gateway: RunningGateway & { log: ReturnType<typeof createMemoryLog> };
  let redis: Redis;
  const host = uniqueName('tls');

  before(async () => {
    ca = makeTestCa();
    first = ca.issue('first');
    live = { certFile: join(ca.dir, 'live.pem'), keyFile: join(ca.dir, 'live.key') };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    tlsEnv = { TLS_CERT_FILE: live.certFile, TLS_KEY_FILE: live.keyFile };
    [receiver, gateway] = await Promise.all([
      receiverOn({ ...tlsEnv, RECEIVER_URL: 'https://127.0.0.1:0/data' }),
      gatewayOn({ ...tlsEnv, WEB_SERVER_URL: 'https://localhost:0/' }),
    ]);
    redis = redisClient();
  });
  after(async () => {
    redis?.disconnect();
    await Promise.all([receiver?.stop(), gateway?.stop()]);
    ca?.remove();
  });

  it('serves the receiver and the gateway over https to curl --cacert, and no one who does not trust the CA', async () => {
    const posted = await curl([
      '--cacert',
      ca.caFile,
      '-H',
      'Content-Type: application/json',
      '-H',
      `Loadstar-Host: ${host}`,
      '-d',
      '{"cpu": 1.5}',
      receiver.url.href,
    ]);
    expect(posted.exit, posted.stderr).to.equal(0);
    expect(posted.status, posted.body).to.equal(200);
    expect(JSON.parse(posted.body)).to.include({ accepted: 1 });

    const read = await curl(['--cacert', ca.caFile, `${gateway.url.href}?topics=cpu&host=${host}`]);
    expect(read.status, read.body).to.equal(200);
    expect(read.body).to.equal('{"cpu":1.5}');

    // Both loopback addresses of `localhost` serve TLS.
    for (const address of ['127.0.0.1', '[::1]']) {
      const healthy = await curl([
        '--cacert',
        ca.caFile,
        '--connect-to',
        `localhost:${gateway.url.port}:${address}:${gateway.url.port}`,
        new URL('healthz', gateway.url).href,
      ]);
      expect(healthy.status, `${address}: ${healthy.stderr}`).to.equal(200);
    }

    // Without our CA, curl refuses the certificate (60: peer certificate cannot be authenticated).
    const untrusting = await curl([`${gateway.url.href}healthz`]);
    expect(untrusting.exit).to.equal(60);
  });

  it('answers /healthz, /readyz and /metrics of the storage consumer, rules consumer and notifier over https', async () => {
    const services = await Promise.all([
      storeOn({ ...tlsEnv, STORE_URL: 'https://127.0.0.1:0/' }),
      rulesOn({ ...tlsEnv, RULES_URL: 'https://127.0.0.1:0/' }),
      notifierOn({ ...tlsEnv, NOTIFIER_URL: 'https://127.0.0.1:0/' }),
    ]);
    try {
      for (const service of services) {
        expect(service.url.protocol).to.equal('https:');
        for (const path of ['healthz', 'readyz', 'metrics']) {
          const got = await curl(['--cacert', ca.caFile, new URL(path, service.url).href]);
          expect(got.status, `${service.url.href}${path}: ${got.stderr}`).to.equal(200);
        }
        const metrics = await curl(['--cacert', ca.caFile, new URL('metrics', service.url).href]);
        const notAfter = Date.parse(new X509Certificate(readFileSync(first.certFile)).validTo);
        expect(metrics.body).to.match(
          new RegExp(
            `\\nloadstar_tls_certificate_expiry_timestamp_seconds\\{[^}]*\\} ${notAfter / 1000}\\n`,
          ),
        );
      }
    } finally {
      await Promise.all(services.map((s) => s.stop()));
    }
  });

  it("delivers the agent's samples over https with TLS_CA_FILE, and none without it", async () => {
    const trusting = uniqueName('tls-agent');
    const untrusting = uniqueName('tls-agent');
    const agents: RunningAgent[] = [];
    const logs = [createMemoryLog('trusting'), createMemoryLog('untrusting')];
    try {
      for (const [name, extra, log] of [
        [trusting, { TLS_CA_FILE: ca.caFile }, logs[0]!],
        [untrusting, {}, logs[1]!],
      ] as const) {
        const config = readProducerConfig({
          RECEIVER_URL: receiver.url.href,
          INTERVAL: '0.05',
          SPOOL_DIR: mkdtempSync(join(tmpdir(), 'loadstar-agent-')),
          ...extra,
        });
        agents.push(await startAgent(config, [new CountingSource(name)], log));
      }
      await eventually(async () =>
        expect(await history(redis, trusting, 'seq')).to.have.length.at.least(3),
      );
      await eventually(() =>
        expect(logs[1]!.lines.join('\n')).to.match(
          /receiver unavailable.*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify)/i,
        ),
      );
      expect(await history(redis, untrusting, 'seq')).to.deep.equal([]);
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
    }
  });

  it('serves gRPC over TLS to a client with the CA, and nothing to a plaintext client', async () => {
    const secure = createLoadstarClient(
      gateway.grpcAddress,
      grpc.credentials.createSsl(readFileSync(ca.caFile)),
      { 'grpc.ssl_target_name_override': 'localhost' },
    );
    const plain = createLoadstarClient(gateway.grpcAddress);
    try {
      const reply = await eventually(async () => {
        const got = await latest(secure, ['cpu'], host);
        expect(got.readings).to.have.length(1);
        return got;
      });
      expect(reply.readings[0]).to.include({ topic: 'cpu', value: 1.5, host });
      const refused = await latest(plain, ['cpu'], host).then(
        () => null,
        (err: grpc.ServiceError) => err,
      );
      expect(refused?.code).to.equal(grpc.status.UNAVAILABLE);
    } finally {
      secure.close();
      plain.close();
    }
  });

  it('answers a request Node refuses to parse on a TLS connection with its JSON 400', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connectTls(
        { host: '127.0.0.1', port: Number(receiver.url.port), ca: readFileSync(ca.caFile) },
        () =>
          socket.write(
            `POST /data HTTP/1.1\r\nHost: x\r\nLoadstar-Host: a\x0bb\r\nContent-Length: 2\r\n\r\n{}`,
            'latin1',
          ),
      );
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (d) => {
        got += d;
      });
      socket.on('error', reject);
      socket.on('end', () => {
        socket.destroy();
        resolve(got);
      });
    });
    expect(answer).to.match(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string };
    expect(body.error).to.match(/malformed HTTP request: .*header/i);
  });

  it('answers plain HTTP on a TLS port with a JSON 400, ends failed handshakes, and stays up', async () => {
    const plain = await curl([`http://127.0.0.1:${receiver.url.port}/data`]);
    expect(plain.status).to.equal(400);
    expect(JSON.parse(plain.body).error).to.equal(
      `this port speaks TLS: use ${receiver.url.origin}/data (https://), not http://`,
    );
    // A whole TLS record of garbage where a ClientHello belongs: the connection is ended
    // (after a TLS alert, never an HTTP answer); and a client that does not trust our certificate.
    const garbage = await rawExchange(
      Number(receiver.url.port),
      Buffer.from([22, 3, 1, 0, 4, 1, 0, 0, 0]),
    );
    expect(garbage).to.not.include('HTTP/1.1');
    const refused = await new Promise<Error>((resolve) => {
      const socket = connectTls({ host: '127.0.0.1', port: Number(receiver.url.port) }, () =>
        resolve(new Error('connected without trusting the CA')),
      );
      socket.on('error', resolve);
    });
    expect(refused.message).to.match(/unable to verify|self.signed|certificate/i);

    const after = await curl(['--cacert', ca.caFile, new URL('/healthz', receiver.url).href]);
    expect(after.status).to.equal(200);
    const metrics = await curl(['--cacert', ca.caFile, new URL('/metrics', receiver.url).href]);
    expect(metrics.body).to.match(
      /loadstar_tls_handshake_failures_total\{reason="plain_http"[^}]*\} [1-9]/,
    );
    expect(metrics.body).to.match(
      /loadstar_tls_handshake_failures_total\{reason="handshake"[^}]*\} [1-9]/,
    );
    const lint = spawnSync('promtool', ['check', 'metrics'], {
      input: metrics.body,
      encoding: 'utf8',
    });
    expect(`${lint.stdout}${lint.stderr}`.trim()).to.equal('');
  });

  it('serves a renewed certificate without a restart, over HTTP and gRPC, and refuses a pair that does not match', async () => {
    const second = ca.issue('second');
    install(second, live);
    const grpcPort = Number(gateway.grpcAddress.split(':').pop());
    await eventually(async () => {
      expect(await servedName('127.0.0.1', Number(receiver.url.port), ca.caFile)).to.equal(
        'second',
      );
      expect(await servedName('127.0.0.1', Number(gateway.url.port), ca.caFile)).to.equal('second');
      expect(await servedName('::1', Number(gateway.url.port), ca.caFile)).to.equal('second');
      expect(await servedName('127.0.0.1', grpcPort, ca.caFile, ['h2'])).to.equal('second');
    });
    expect(receiver.log.lines.join('\n')).to.match(/TLS certificate re-read .*CN=second/);

    // A gRPC call on a new connection still works with the renewed certificate.
    const client = createLoadstarClient(
      gateway.grpcAddress,
      grpc.credentials.createSsl(readFileSync(ca.caFile)),
      { 'grpc.ssl_target_name_override': 'localhost' },
    );
    try {
      expect((await latest(client, ['cpu'], host)).readings).to.have.length(1);
    } finally {
      client.close();
    }

    // A key that is not the certificate's (a renewal half done): the pair in use stays.
    const third = ca.issue('third');
    copyFileSync(third.certFile, `${live.certFile}.new`);
    renameSync(`${live.certFile}.new`, live.certFile);
    await eventually(() =>
      expect(receiver.log.lines.join('\n')).to.include(
        'new TLS certificate or key refused; serving the one in use',
      ),
    );
    expect(await servedName('127.0.0.1', Number(receiver.url.port), ca.caFile)).to.equal('second');
    // Its key arrives: the pair is whole again, and served.
    copyFileSync(third.keyFile, `${live.keyFile}.new`);
    renameSync(`${live.keyFile}.new`, live.keyFile);
    await eventually(async () =>
      expect(await servedName('127.0.0.1', Number(receiver.url.port), ca.caFile)).to.equal('third'),
    );
  });

  it('stops a service at start naming the setting: a missing, unreadable or mismatched file', async () => {
    const parse = (env: Record<string, string>) => () =>
      receiverCommand.parse(
        new Settings(testEnv({ RECEIVER_URL: 'https://127.0.0.1:0/data', ...env })),
      );
    const other = ca.issue('other');
    const garbage = join(ca.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    for (const [env, setting, words] of [
      [{}, 'TLS_CERT_FILE', 'is needed: RECEIVER_URL is https://'],
      [{ TLS_CERT_FILE: first.certFile }, 'TLS_KEY_FILE', 'is needed: RECEIVER_URL is https://'],
      [
        { TLS_CERT_FILE: join(ca.dir, 'nope.pem'), TLS_KEY_FILE: first.keyFile },
        'TLS_CERT_FILE',
        'ENOENT',
      ],
      [
        { TLS_CERT_FILE: garbage, TLS_KEY_FILE: first.keyFile },
        'TLS_CERT_FILE',
        'no PEM certificate',
      ],
      [{ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: garbage }, 'TLS_KEY_FILE', 'no private key'],
      [
        { TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: other.keyFile },
        'TLS_KEY_FILE',
        'is not the key of the certificate',
      ],
    ] as const) {
      const err = (() => {
        try {
          parse(env)();
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, JSON.stringify(env)).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).setting).to.equal(setting);
      expect((err as ConfigError).message).to.include(words);
    }
    // An http:// URL does not read the files at all.
    expect(() =>
      receiverCommand.parse(new Settings(testEnv({ TLS_CERT_FILE: join(ca.dir, 'nope.pem') }))),
    ).to.not.throw();
    expect(() => readTrustSettings(new Settings({ TLS_CA_FILE: garbage }))).to.throw(
      ConfigError,
      'TLS_CA_FILE: ',
    );

    // As a process: one line naming the setting, exit status 2.
    const proc = runScript('receiver/main.ts', {
      RECEIVER_URL: 'https://127.0.0.1:0/data',
      TLS_CERT_FILE: first.certFile,
      TLS_KEY_FILE: join(ca.dir, 'nope.key'),
    });
    expect(await proc.exited).to.equal(2);
    const lines = proc.output().trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('bad setting TLS_KEY_FILE').and.include('ENOENT');
  });

  it("delivers the notifier's requests to an https receiver trusted through TLS_CA_FILE", async () => {
    const sinkCert = ca.issue('sink');
    const bodies: string[] = [];
    const sink: HttpsServer = createHttpsServer(
      { cert: readFileSync(sinkCert.certFile), key: readFileSync(sinkCert.keyFile) },
      (req, res) => {
        let body = '';
        req.on('data', (d) => {
          body += d;
        });
        req.on('end', () => {
          bodies.push(body);
          res.end('ok');
        });
      },
    );
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(`https://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`);
      const outgoing = { url, headers: { 'Content-Type': 'application/json' }, body: '{"n":1}' };
      const trust = new Trust(readTrustSettings(new Settings({ TLS_CA_FILE: ca.caFile }))!);
      expect(await send(outgoing, 5_000, undefined, trust)).to.deep.equal({
        ok: true,
        permanent: false,
        error: '',
      });
      const untrusted = await send(outgoing, 5_000);
      expect(untrusted.ok).to.equal(false);
      expect(untrusted.error).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
      expect(bodies).to.deep.equal(['{"n":1}']);
    } finally {
      sink.closeAllConnections();
      await new Promise((resolve) => sink.close(resolve));
    }
  });
});
