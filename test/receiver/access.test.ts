// Ingest tokens end to end: who may post what, revocation through the tokens
// file, the agent's INGEST_TOKEN, and the endpoints that stay open.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { bearerToken, tokenMatches } from '../../deploy/runtime/tokens.ts';
import { type RunningAgent, startAgent } from '../../producer/agent.ts';
import { readProducerConfig } from '../../producer/config.ts';
import type { PartialRecord, Source } from '../../producer/sources/source.ts';
import { parseTokenEntries } from '../../receiver/access.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  getJson,
  history,
  postSample,
  receiverOn,
  redisClient,
  uniqueName,
} from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';

const newToken = () => randomBytes(18).toString('base64url');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function postBatch(
  receiver: RunningReceiver,
  samples: object[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(new URL(`${receiver.url.pathname}/batch`, receiver.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ samples }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

/** A raw HTTP connection: what was written is exactly what the receiver gets. */
function rawConnection(url: URL) {
  const socket = connect(Number(url.port), url.hostname);
  let data = '';
  let ended = false;
  let wake = () => {};
  socket.setEncoding('latin1');
  socket.on('data', (d) => {
    data += d;
    wake();
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  socket.on('error', () => {});
  return {
    socket,
    get ended() {
      return ended;
    },
    /** Resolves with the next whole answer (head and Content-Length body). */
    async answer(): Promise<string> {
      for (;;) {
        const head = data.indexOf('\r\n\r\n');
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(data.slice(0, head))?.[1] ?? -1);
        if (head >= 0 && length >= 0 && data.length >= head + 4 + length) {
          const whole = data.slice(0, head + 4 + length);
          data = data.slice(head + 4 + length);
          return whole;
        }
        if (ended) throw new Error(`connection closed after: ${data.slice(0, 200)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}

const postHead = (url: URL, length: number, headers = '') =>
  `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${length}\r\n${headers}\r\n`;

describe('ingest tokens (INGEST_TOKENS)', function () {
  this.timeout(30_000);
  const web = uniqueName('web');
  const db = uniqueName('db');
  const [webToken, dbToken, twoHostToken, sharedToken] = [
    newToken(),
    newToken(),
    newToken(),
    newToken(),
  ];
  const other = uniqueName('other');
  let receiver: RunningReceiver;
  let redis: Redis;

  before(async () => {
    receiver = await receiverOn({
      // The two-host token is listed once per host; the shared one may write any host.
      INGEST_TOKENS: `${web}:${webToken}, ${db}:${dbToken}, ${web}:${twoHostToken},${other}:${twoHostToken},*:${sharedToken}`,
      BODY_TIMEOUT: '5s',
    });
    redis = redisClient();
  });
  after(async () => {
    redis.disconnect();
    await receiver.stop();
  });

  it('answers 401 with a JSON error and a Bearer challenge without a token, on both ingest paths', async () => {
    const one = await postSample(receiver.url, { cpu: 1 }, { 'loadstar-host': web });
    expect(one.status).to.equal(401);
    expect(one.body.error).to.include('Authorization: Bearer <token>').and.include('INGEST_TOKENS');
    expect(one.headers.get('www-authenticate')).to.equal('Bearer realm="loadstar"');
    const batch = await postBatch(receiver, [{ metrics: { cpu: 1 } }], { 'loadstar-host': web });
    expect(batch.status).to.equal(401);
    expect(batch.body.error).to.include('needs an ingest token');
    expect(await history(redis, web, 'cpu')).to.deep.equal([]);
  });

  it('answers 401 for an unknown token, one character off, or another scheme, and stores nothing', async () => {
    const offByOne = `${webToken.slice(0, -1)}${webToken.endsWith('A') ? 'B' : 'A'}`;
    for (const authorization of [
      `Bearer ${newToken()}`,
      `Bearer ${offByOne}`,
      `Bearer ${webToken}x`,
      `Basic ${Buffer.from(`web:${webToken}`).toString('base64')}`,
      webToken,
    ]) {
      const res = await postSample(
        receiver.url,
        { cpu: 1 },
        { 'loadstar-host': web, authorization },
      );
      expect(res.status, authorization).to.equal(401);
      expect(res.body.error, authorization).to.be.a('string');
    }
    expect(await history(redis, web, 'cpu')).to.deep.equal([]);
  });

  it('lets a host-bound token write its host, and answers 403 naming the host for another', async () => {
    const ok = await postSample(
      receiver.url,
      { mem: 2 },
      { 'loadstar-host': web, ...bearer(webToken) },
    );
    expect(ok.status).to.equal(200);
    const denied = await postSample(
      receiver.url,
      { mem: 3 },
      { 'loadstar-host': db, ...bearer(webToken) },
    );
    expect(denied.status).to.equal(403);
    expect(denied.body.error)
      .to.include(`only, not of host '${db}'`)
      .and.include(web)
      .and.include('header Loadstar-Host');
    expect((await history(redis, web, 'mem')).map(([, v]) => v)).to.deep.equal([2]);
    expect(await history(redis, db, 'mem')).to.deep.equal([]);
  });

  it("refuses a bound token's post without Loadstar-Host: its host would be the poster's address", async () => {
    const res = await postSample(receiver.url, { cpu: 1 }, bearer(dbToken));
    expect(res.status).to.equal(403);
    expect(res.body.error).to.include("'127.0.0.1'").and.include('no Loadstar-Host header');
  });

  it('lets a token listed for two hosts write both, and the shared token any host', async () => {
    for (const [host, token] of [
      [web, twoHostToken],
      [other, twoHostToken],
      [uniqueName('anyhost'), sharedToken],
    ] as const) {
      const res = await postSample(
        receiver.url,
        { up: 1 },
        { 'loadstar-host': host, ...bearer(token) },
      );
      expect(res.status, host).to.equal(200);
    }
    const res = await postSample(
      receiver.url,
      { up: 1 },
      { 'loadstar-host': db, ...bearer(twoHostToken) },
    );
    expect(res.status).to.equal(403);
  });

  it('refuses a whole batch with 403 when one sample is of a host the token may not write', async () => {
    const metric = uniqueName('m');
    const res = await postBatch(
      receiver,
      [
        { host: db, metrics: { [metric]: 1 } },
        { host: web, metrics: { [metric]: 2 } },
        { metrics: { [metric]: 3 } },
      ],
      { 'loadstar-host': db, ...bearer(dbToken) },
    );
    expect(res.status).to.equal(403);
    expect(res.body.error).to.include(`not of host '${web}' (sample 1)`);
    expect(await history(redis, db, metric)).to.deep.equal([]);
    const good = await postBatch(
      receiver,
      [{ host: db, metrics: { [metric]: 1 } }, { metrics: { [metric]: 3 } }],
      { 'loadstar-host': db, ...bearer(dbToken) },
    );
    expect(good.status).to.equal(200);
    expect(good.body.accepted).to.equal(2);
  });

  it('answers 401 before the body arrives, then reads the body so the sender gets the answer', async () => {
    const connection = rawConnection(receiver.url);
    try {
      // 100 kB announced and none sent: only a check made before reading the body answers now.
      connection.socket.write(postHead(receiver.url, 100_000, `Loadstar-Host: ${web}\r\n`));
      const first = await connection.answer();
      expect(first).to.match(/^HTTP\/1\.1 401 /);
      expect(first).to.include('"error":"posting samples needs an ingest token');
      expect(first).not.to.match(/\r\nconnection: close\r\n/i);
      // The body still comes (a client writes it whatever the answer): read and dropped,
      // and the connection serves the next request.
      connection.socket.write('1'.repeat(100_000));
      connection.socket.write(
        postHead(
          receiver.url,
          2,
          `Authorization: Bearer ${sharedToken}\r\nLoadstar-Host: ${web}\r\n`,
        ),
      );
      connection.socket.write('{}');
      const second = await connection.answer();
      expect(second).to.match(/^HTTP\/1\.1 400 /);
      expect(second).to.include('sample has no metrics');
    } finally {
      connection.socket.destroy();
    }
  });

  it('answers 401 and closes the connection when the announced body is larger than any it accepts', async () => {
    const connection = rawConnection(receiver.url);
    try {
      connection.socket.write(postHead(receiver.url, 100_000_000, `Loadstar-Host: ${web}\r\n`));
      const answer = await connection.answer();
      expect(answer).to.match(/^HTTP\/1\.1 401 /);
      expect(answer).to.match(/\r\nconnection: close\r\n/i);
      await eventually(() => expect(connection.ended).to.equal(true));
    } finally {
      connection.socket.destroy();
    }
  });

  it('keeps /healthz, /readyz, /metrics and /openapi.json open', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json']) {
      expect((await getJson(new URL(path, receiver.url))).status, path).to.equal(200);
    }
    const metrics = await fetch(new URL('/metrics', receiver.url));
    expect(metrics.status).to.equal(200);
    const text = await metrics.text();
    expect(text).to.match(/loadstar_samples_rejected_total\{reason="unauthorized"[^}]*\} [1-9]/);
    expect(text).to.match(/loadstar_samples_rejected_total\{reason="forbidden"[^}]*\} [1-9]/);
  });
});

describe('the tokens file (INGEST_TOKENS_FILE)', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-tokens-'));
  const file = join(dir, 'tokens');
  const host = uniqueName('filed');
  const [kept, revoked] = [newToken(), newToken()];
  let receiver: RunningReceiver & { log: ReturnType<typeof createMemoryLog> };

  /** Replaces the file the way an editor or config tool does: a new file renamed over the old. */
  const writeTokens = (text: string) => {
    writeFileSync(`${file}.new`, text);
    renameSync(`${file}.new`, file);
  };
  const post = (token: string) =>
    postSample(receiver.url, { cpu: 1 }, { 'loadstar-host': host, ...bearer(token) });

  before(async () => {
    writeTokens(`# agents\n${host}:${kept}\n\n${host}:${revoked}\n`);
    receiver = await receiverOn({ INGEST_TOKENS_FILE: file, LOG_LEVEL: 'info' });
  });
  after(() => receiver.stop());

  it('revokes a token removed from the file within seconds, without a restart', async () => {
    expect((await post(revoked)).status).to.equal(200);
    writeTokens(`# agents\n${host}:${kept}\n`);
    await eventually(async () => expect((await post(revoked)).status).to.equal(401), {
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    expect((await post(kept)).status).to.equal(200);
  });

  it('keeps the tokens it has when the file turns bad, and logs why', async () => {
    writeTokens(`${host}:${kept}\nthis line is no entry\n`);
    await eventually(
      async () => {
        await post(kept);
        expect(receiver.log.lines.join('')).to.include('INGEST_TOKENS_FILE has a bad entry');
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(receiver.log.lines.join('')).to.include('line 2 is not host:token');
    expect((await post(kept)).status).to.equal(200);
    expect((await post(revoked)).status).to.equal(401);
  });
});

describe('ingest token settings', function () {
  this.timeout(30_000);

  it('parses host:token entries, IPv6 hosts and * included, and refuses bad ones naming the entry, never the token', () => {
    const token = 'k9G3tq2ZfV0x8cLmQw1a';
    expect(
      parseTokenEntries(`web-01:${token}, ::1:${token},*:${token}`, 'comma').map((e) => e.host),
    ).to.deep.equal(['web-01', '::1', '*']);
    expect(parseTokenEntries(`# comment\n\nweb-01:${token}\n`, 'line')).to.have.length(1);
    const cases: [string, string][] = [
      [`web-01${token}`, 'entry 1 is not host:token'],
      [`web-01:${token},web 02:${token}`, "entry 2: 'web 02' is not a host name"],
      ['web-01:short', 'shorter than 16 characters'],
      [`web-01:${token}!`, 'characters outside'],
    ];
    for (const [text, words] of cases) {
      let message = '';
      try {
        parseTokenEntries(text, 'comma');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, text).to.include(words);
      expect(message, text).not.to.include(token);
    }
  });

  it('stops the receiver at start with one line naming INGEST_TOKENS, without the token', async () => {
    const secret = 'sixteen-chars-at-least';
    const proc = runScript('receiver/main.ts', { INGEST_TOKENS: `web 01:${secret}` });
    expect(await proc.exited).to.equal(2);
    const lines = proc.output().trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('bad setting INGEST_TOKENS').and.include("'web 01'");
    expect(lines[0]).not.to.include(secret);
  });

  it('stops the receiver at start when INGEST_TOKENS_FILE is missing', async () => {
    const proc = runScript('receiver/main.ts', { INGEST_TOKENS_FILE: '/nonexistent/tokens' });
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.include('bad setting INGEST_TOKENS_FILE').and.include('ENOENT');
  });

  it('compares tokens by digest and reads only Bearer credentials', () => {
    expect(tokenMatches('sesame', 'sesame')).to.equal(true);
    expect(tokenMatches('sesame', 'sesam')).to.equal(false);
    expect(tokenMatches('sesame', '')).to.equal(false);
    expect(bearerToken('Bearer  abc ')).to.equal('abc');
    expect(bearerToken('bearer abc')).to.equal('abc');
    expect(bearerToken('Basic abc')).to.equal('');
    expect(bearerToken('')).to.equal('');
  });
});

/** A source whose metric `seq` counts collections. */
class CountingSource implements Source {
  readonly name = 'counter';
  count = 0;
  constructor(private readonly host: string) {}
  async collect(): Promise<PartialRecord[]> {
    this.count++;
    return [{ host: this.host, metrics: { seq: this.count } }];
  }
}

describe('the agent with INGEST_TOKEN', function () {
  this.timeout(30_000);
  const host = uniqueName('agent');
  const token = newToken();
  let receiver: RunningReceiver;
  let redis: Redis;
  let agent: RunningAgent | undefined;

  before(async () => {
    receiver = await receiverOn({ INGEST_TOKENS: `${host}:${token}` });
    redis = redisClient();
  });
  afterEach(async () => {
    await agent?.stop(0);
    agent = undefined;
  });
  after(async () => {
    redis.disconnect();
    await receiver.stop();
  });

  const startWith = async (agentToken: string, log = createMemoryLog('producer')) => {
    const config = readProducerConfig({
      RECEIVER_URL: receiver.url.href,
      INTERVAL: '0.05',
      SPOOL_DIR: mkdtempSync(join(tmpdir(), 'loadstar-agent-')),
      INGEST_TOKEN: agentToken,
    });
    const source = new CountingSource(host);
    agent = await startAgent(config, [source], log);
    return { source, log };
  };

  it('delivers with the right token', async () => {
    await startWith(token);
    await eventually(async () =>
      expect(await history(redis, host, 'seq')).to.have.length.at.least(3),
    );
  });

  it('is refused with 401 for a wrong token: logs it loudly and drops, storing nothing', async () => {
    const stored = (await history(redis, host, 'seq')).length;
    const { source, log } = await startWith(newToken());
    await eventually(() => {
      expect(source.count).to.be.at.least(3);
      expect(agent!.sender.counters.rejected).to.be.at.least(2);
    });
    const refusal = log.lines.find((l) => l.includes('receiver refused the post'));
    expect(refusal).to.match(/^\S+ ERROR /);
    expect(refusal).to.include('status=401').and.include('ingest token is not known');
    expect(agent!.sender.counters.sent).to.equal(0);
    expect(await history(redis, host, 'seq')).to.have.length(stored);
  });
});
