// Hostile input against the receiver: generated bodies, headers and slow
// senders (fast-check) against a receiver process, and the limits that keep
// one bad agent from hurting the rest. Every answer is a 2xx or a 4xx with a
// JSON error, in time; the process stays up and its memory bounded.
//
// FUZZ_RUNS=n generates n requests per property instead of the defaults below;
// FUZZ_SEED=n replays a reported failure (with the path fast-check prints).
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { keys } from '../../proto/keys.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import {
  ANSWER_WITHIN_MS,
  AnswerTally,
  CONCURRENCY,
  FUZZ_SUITE_TIMEOUT_MS,
  fuzzSeed,
  propertyRuns,
  rssMb,
} from '../harness/fuzz.ts';
import { getJson, postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { isAlive, runScript, type ServiceProcess } from '../harness/processes.ts';
import {
  freePort,
  removeDir,
  type ServerProcess,
  startNats,
  startRedis,
} from '../harness/servers.ts';

// ---- fuzz settings and plumbing -----------------------------------------------

const SEED = fuzzSeed(20_261_123);

/** What a request generated here looks like, kept printable for fast-check's report. */
interface Hostile {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
  /** whole: one write; chunked: no Content-Length; trickle: a few pieces with pauses. */
  pace: 'whole' | 'chunked' | 'trickle';
}

interface Answer {
  status: number;
  type: string;
  text: string;
  allow?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(base: URL, r: Hostile): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers };
    // Explicit framing: Node sends a GET's body unframed otherwise, which is not HTTP.
    if (r.pace === 'chunked') headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(body.length);
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        headers,
        agent,
        timeout: ANSWER_WITHIN_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            text,
            allow: res.headers.allow,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)));
    req.on('error', reject);
    if (r.pace !== 'trickle' || body.length < 4) {
      req.end(body);
      return;
    }
    const cut = [0, body.length >> 2, body.length >> 1, body.length];
    let piece = 0;
    const next = () => {
      req.write(body.subarray(cut[piece], cut[piece + 1]));
      piece++;
      if (piece < cut.length - 1) setTimeout(next, 15);
      else req.end();
    };
    next();
  });
}

/** Why an answer breaks the contract, or null when it keeps it. */
function problemWith(a: Answer, method = 'POST'): string | null {
  const { status } = a;
  // OPTIONS is answered by its Allow header, with no body to speak of.
  if (method === 'OPTIONS' && status >= 200 && status < 300 && a.allow) return null;
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500)))
    return `status ${status}`;
  if (!/^application\/json\b/.test(a.type)) return `status ${status} with content type ${a.type}`;
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `status ${status} with a body that is not JSON: ${a.text.slice(0, 200)}`;
  }
  if (body === null || typeof body !== 'object')
    return `status ${status} with ${a.text.slice(0, 200)}`;
  const error = (body as { error?: unknown }).error;
  if (status >= 400 && (typeof error !== 'string' || error === ''))
    return `status ${status} without an error message: ${a.text.slice(0, 200)}`;
  return null;
}

/** Body limits of the receiver under test: MAX_BODY_BYTES for one sample, MAX_BATCH_BYTES otherwise. */
const SAMPLE_LIMIT = 256 * 1024;
const BATCH_LIMIT = 1024 * 1024;

/**
 * Whether the receiver may cut this request's connection: a body longer than
 * it reads is refused (413) and the connection closed, and a client still
 * writing may see the reset before the answer. Any other request must be answered.
 */
function mayBeCut(r: Hostile, err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  const limit = r.path === '/data' ? SAMPLE_LIMIT : BATCH_LIMIT;
  const bytes = typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length;
  return (code === 'ECONNRESET' || code === 'EPIPE') && bytes > limit;
}

async function sendAll(base: URL, requests: Hostile[], answers: AnswerTally) {
  const got = await Promise.all(requests.map((r) => send(base, r).catch((err: Error) => err)));
  got.forEach((a, i) => {
    const r = requests[i]!;
    if (a instanceof Error && mayBeCut(r, a)) {
      answers.count('cut');
      return;
    }
    const problem = a instanceof Error ? `no answer: ${a.message}` : problemWith(a, r.method);
    if (problem) {
      const body =
        typeof r.body === 'string' ? r.body : `bytes ${Buffer.from(r.body).toString('hex')}`;
      throw new Error(
        `${problem} for ${r.method} ${r.path} ${JSON.stringify(r.headers)} ${r.pace} body ${body.slice(0, 300)}`,
      );
    }
    const status = (a as Answer).status;
    answers.count(status);
  });
}

// ---- what hostile clients send ---------------------------------------------

const WEB_TOKEN = 'web-01-token-0123456789abcdef';
const ANY_TOKEN = 'any-host-token-0123456789abcdef';

/** Header values an HTTP client can put on the wire: latin1 without control characters. */
const headerText = fc.string({
  unit: fc
    .integer({ min: 0x20, max: 0xff })
    .filter((c) => c !== 0x7f)
    .map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
/** How a UTF-8 header value travels: its bytes, read as latin1. */
const asLatin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** Names that look right and are not: Cyrillic, fullwidth, zero-width, reserved, too long. */
const LOOK_ALIKES = [
  'сpu', // Cyrillic с
  'cрu', // Cyrillic р
  'ｃｐｕ',
  'cpu\u200b',
  'cpu\u00a0',
  'ᴄpu',
  'cpu\u0301',
  '__proto__',
  'constructor',
  'prototype',
  'c p u',
  '',
  'a'.repeat(128),
  'a'.repeat(129),
  'cpu"',
  'cpu\\',
  '\u0000',
  '\ud800',
];

const metricName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('cpu', 'mem', 'load.1', 'disk.used.root', 'gpu.0.mem') },
  { weight: 2, arbitrary: fc.constantFrom(...LOOK_ALIKES) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);

/** Value text as a hostile client writes it: numbers, huge ones, NaN/Infinity text, other JSON. */
const valueText = fc.oneof(
  { weight: 4, arbitrary: fc.double().map((v) => String(v)) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '1e400',
      '-1e400',
      '1e-400',
      'NaN',
      'Infinity',
      '-Infinity',
      '1.0',
      '-0',
      '01',
      '.5',
      '5.',
      '+1',
      '0x10',
      '1e',
      '--1',
      '1_000',
      '９',
      '"1"',
      'true',
      'null',
      '[]',
      '{}',
      '[1]',
      '{"a":1}',
      '9'.repeat(400),
      `1.${'0'.repeat(400)}1`,
    ),
  },
);

const member = fc.tuple(metricName, valueText).map(([n, v]) => `${JSON.stringify(n)}:${v}`);
const flatObject = fc.array(member, { maxLength: 8 }).map((m) => `{${m.join(',')}}`);
/** The same name twice, which JSON.parse would silently accept. */
const duplicated = fc
  .tuple(metricName, valueText, valueText, fc.array(member, { maxLength: 3 }))
  .map(
    ([n, a, b, rest]) =>
      `{${[...rest, `${JSON.stringify(n)}:${a}`, `${JSON.stringify(n)}:${b}`].join(',')}}`,
  );
const truncated = fc
  .tuple(flatObject, fc.nat())
  .map(([text, cut]) => text.slice(0, cut % (text.length + 1)));
const deep = fc
  .tuple(
    fc.constantFrom('[', '{"cpu":', '{"a":[', '{'),
    fc.integer({ min: 1, max: 100_000 }),
    fc.boolean(),
  )
  .map(([open, depth, closed]) => open.repeat(depth) + (closed ? `1${'}'.repeat(depth)}` : ''));
const anyJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
const bytes = fc.uint8Array({ maxLength: 64 });

/**
 * What an agent sends: known names, now and then a new one (which runs into
 * MAX_METRICS_PER_HOST in time), and any finite number, written as JSON writes it.
 */
const agentBody = fc
  .dictionary(
    fc.oneof(
      {
        weight: 9,
        arbitrary: fc.constantFrom(
          'cpu',
          'mem',
          'swap',
          'disk',
          'load.1',
          'load.5',
          'net.eth0.rx_bytes_per_s',
        ),
      },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/) },
    ),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    { minKeys: 1, maxKeys: 8 },
  )
  .map((metrics) => JSON.stringify(metrics));

const sampleBody = fc.oneof(
  { weight: 6, arbitrary: agentBody },
  { weight: 5, arbitrary: flatObject },
  { weight: 1, arbitrary: duplicated },
  { weight: 2, arbitrary: truncated },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: bytes },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

const host = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('web-01', 'web-02', 'db-01') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('wеb-01', 'web-01 ', 'web/01', 'a'.repeat(254), '{x}', '*'),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,8}$/) },
  { weight: 1, arbitrary: headerText },
);

const timeText = fc.oneof(
  fc.integer({ min: -600_000, max: 7_200_000 }).map((ago) => String(Date.now() - ago)),
  fc.constantFrom(
    '1e400',
    '99999999999999999999',
    '-1',
    'NaN',
    'yesterday',
    '2026-13-45T00:00:00Z',
    '0',
  ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  headerText,
);

/** The arbitrary's value `percent` % of the time, else no value (the header is left out). */
function sometimes<T>(percent: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: percent, arbitrary },
    { weight: 100 - percent, arbitrary: fc.constant(undefined) },
  );
}

const optionalHeaders = fc.record({
  'loadstar-host': sometimes(80, host.map(asLatin1)),
  'loadstar-time': sometimes(30, timeText),
  'loadstar-sample-id': sometimes(
    30,
    fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,70}$/), headerText),
  ),
  'loadstar-interval': sometimes(
    30,
    fc.oneof(fc.constantFrom('5', '0.5', '0', '-5', '86401', '1e3', 'NaN', '5s'), headerText),
  ),
  'loadstar-spool-depth': sometimes(10, fc.oneof(fc.nat().map(String), headerText)),
  'loadstar-spool-dropped': sometimes(10, fc.oneof(fc.nat().map(String), headerText)),
  'content-encoding': sometimes(5, fc.constantFrom('identity', 'gzip', 'br', 'x')),
  // Most requests carry the shared token, so that most reach the checks behind it.
  authorization: fc.oneof(
    { weight: 85, arbitrary: fc.constant(`Bearer ${ANY_TOKEN}`) },
    { weight: 5, arbitrary: fc.constant(`Bearer ${WEB_TOKEN}`) },
    {
      weight: 5,
      arbitrary: fc.constantFrom(
        undefined,
        `Bearer ${ANY_TOKEN}x`,
        'Bearer ',
        `Basic ${ANY_TOKEN}`,
        ANY_TOKEN,
      ),
    },
    { weight: 5, arbitrary: headerText },
  ),
});

const contentType = fc.oneof(
  {
    weight: 17,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
      'multipart/form-data; boundary=x',
      '',
    ),
  },
  { weight: 1, arbitrary: headerText },
);

function hostileRequest(path: fc.Arbitrary<string>, body: fc.Arbitrary<string | Uint8Array>) {
  return fc
    .record({
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant('POST') },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
      ),
      path,
      type: contentType,
      headers: optionalHeaders,
      body,
      pace: fc.oneof(
        { weight: 8, arbitrary: fc.constant('whole' as const) },
        { weight: 1, arbitrary: fc.constant('chunked' as const) },
        { weight: 1, arbitrary: fc.constant('trickle' as const) },
      ),
    })
    .map(({ method, path, type, headers, body, pace }): Hostile => {
      const all: Record<string, string> = {};
      if (type !== '') all['content-type'] = type;
      for (const [name, value] of Object.entries(headers))
        if (value !== undefined) all[name] = value;
      return { method, path, headers: all, body, pace };
    });
}

const samplePath = fc.oneof(
  { weight: 12, arbitrary: fc.constant('/data') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/data/',
      '/DATA',
      '/data/x',
      '/',
      '/%zz',
      '/data?topics=cpu',
      '/healthz',
      '//data',
    ),
  },
);

const batchItem = fc
  .record(
    {
      host: fc.oneof(
        host.map((h) => JSON.stringify(h)),
        fc.constantFrom('1', 'null', '["web-01"]'),
      ),
      id: fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9_.:-]{1,70}$/).map((s) => JSON.stringify(s)),
        anyJson,
      ),
      time: fc.oneof(
        timeText.map((t) => JSON.stringify(t)),
        fc.constantFrom(String(Date.now()), '1e400', '-5', '{}'),
      ),
      interval: fc.oneof(
        fc.constantFrom('5', '0.25', '-1', '"5"', '1e400', 'null', '[]'),
        valueText,
      ),
      metrics: fc.oneof({ weight: 4, arbitrary: flatObject }, { weight: 1, arbitrary: anyJson }),
    },
    { requiredKeys: ['metrics'] },
  )
  .map(
    (item) =>
      `{${Object.entries(item)
        .map(([k, v]) => `"${k}":${v}`)
        .join(',')}}`,
  );

const batchBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(batchItem, { maxLength: 6 })
      .map((items) => `{"samples":[${items.join(',')}]}`),
  },
  { weight: 1, arbitrary: anyJson.map((v) => `{"samples":${v}}`) },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: truncated.map((t) => `{"samples":[{"metrics":${t}`) },
  { weight: 1, arbitrary: bytes },
);

// ---- the receiver as a process, fuzzed -------------------------------------

describe('receiver under hostile input', function () {
  this.timeout(FUZZ_SUITE_TIMEOUT_MS);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: ServiceProcess;
  let base: URL;
  let rssBefore = 0;
  const answers = new AnswerTally();

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    base = new URL(`http://127.0.0.1:${await freePort()}/data`);
    receiver = runScript('receiver/main.ts', {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      RECEIVER_URL: base.href,
      BODY_TIMEOUT: '1s',
      MAX_BATCH_BYTES: '1MiB',
      MAX_BATCH_SAMPLES: '5',
      // Small enough that generated hosts and names run into them.
      MAX_HOSTS: '30',
      MAX_METRICS_PER_HOST: '40',
      INGEST_TOKENS: `web-01:${WEB_TOKEN},*:${ANY_TOKEN}`,
      LOG_LEVEL: 'error',
    });
    await eventually(
      async () => expect((await getJson(new URL('/readyz', base))).status).to.equal(200),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    // Warm up (JIT, pools, the first stream publish) before measuring memory.
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postSample(
          base,
          { cpu: i },
          { 'loadstar-host': 'web-02', authorization: `Bearer ${ANY_TOKEN}` },
        ),
      ),
    );
    rssBefore = rssMb(receiver.child.pid!);
  });

  after(async () => {
    agent.destroy();
    if (receiver) {
      receiver.child.kill('SIGTERM');
      await receiver.exited;
    }
    for (const server of [nats, redis]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
    console.log(answers.summary('receiver', SEED));
  });

  it('answers every generated single-sample post with a 2xx or a 4xx and a JSON error, in time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileRequest(samplePath, sampleBody), {
          minLength: CONCURRENCY,
          maxLength: CONCURRENCY,
        }),
        async (requests) => {
          answers.sent += requests.length;
          await sendAll(base, requests, answers);
        },
      ),
      propertyRuns(SEED, 6_000),
    );
    // The generators reach past the edge: some posts were accepted, and each kind of refusal happened.
    for (const status of [200, 400, 401, 403, 413, 415, 429])
      expect(answers.get(status), `answers ${status}`).to.be.above(0);
  });

  it('answers every generated batch with a 2xx or a 4xx and a JSON error, in time', async () => {
    const before = answers.get(200);
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileRequest(fc.constant('/data/batch'), batchBody), {
          minLength: CONCURRENCY,
          maxLength: CONCURRENCY,
        }),
        async (requests) => {
          answers.sent += requests.length;
          await sendAll(base, requests, answers);
        },
      ),
      propertyRuns(SEED + 1, 2_000),
    );
    expect(answers.get(200)).to.be.above(before);
  });

  it('answers stalled and byte-at-a-time bodies 408 within BODY_TIMEOUT, and lying lengths too', async () => {
    const stalled = fc.record({
      // The body announced, what is sent of it, and the pause between bytes.
      declared: fc.integer({ min: 2, max: 200_000 }),
      sentPart: fc.double({ min: 0, max: 0.99, noNaN: true }),
      byteEveryMs: fc.constantFrom(0, 50, 200),
      path: fc.constantFrom('/data', '/data/batch'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(stalled, { minLength: 20, maxLength: 20 }), async (cases) => {
        answers.sent += cases.length;
        const got = await Promise.all(
          cases.map((c) =>
            stallingPost(
              base,
              c.path,
              c.declared,
              Math.floor(c.declared * c.sentPart),
              c.byteEveryMs,
            ),
          ),
        );
        got.forEach((a, i) => {
          expect(a.status, JSON.stringify(cases[i])).to.equal(408);
          expect(problemWith(a), JSON.stringify(cases[i])).to.equal(null);
          expect(JSON.parse(a.text).error).to.equal('body did not arrive within 1000 ms');
        });
      }),
      // Each run waits out BODY_TIMEOUT once: one stalled body per hundred generated posts.
      propertyRuns(SEED + 2, 60, { together: 20, share: 1 / 100 }),
    );
  });

  it('answers malformed HTTP that Node’s own parser refuses with a 4xx and a JSON error, and carries on', async () => {
    // These never reach the receiver's routes: Node refuses them while parsing, and
    // deploy/runtime/http.ts answers its clientError as JSON.
    const cases = [
      'GARBAGE\r\n\r\n',
      `POST /data?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /data HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      'POST /data HTTP/1.1\r\nHost: x\r\nLoadstar-Host: web\x0b01\r\nContent-Length: 2\r\n\r\n{}',
    ];
    answers.sent += cases.length;
    for (const text of cases) {
      const raw = await new Promise<string>((resolve) => {
        const socket = connect(Number(base.port), base.hostname);
        let got = '';
        socket.setEncoding('latin1');
        socket.on('data', (d) => {
          got += d;
        });
        socket.on('close', () => resolve(got));
        socket.on('error', () => {});
        socket.end(Buffer.from(text, 'latin1'));
      });
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const answer: Answer = {
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        type: /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? '',
        text: rest.join('\r\n\r\n'),
      };
      expect(answer.status, text.slice(0, 60)).to.be.within(400, 499);
      expect(problemWith(answer), text.slice(0, 60)).to.equal(null);
      answers.count(answer.status);
    }
  });

  it('is still up, ready, accepting, and within its memory bound afterwards', async () => {
    expect(isAlive(receiver.child.pid!)).to.equal(true);
    expect((await getJson(new URL('/readyz', base))).status).to.equal(200);
    const ok = await postSample(
      base,
      { cpu: 1.5 },
      { 'loadstar-host': 'web-01', authorization: `Bearer ${WEB_TOKEN}` },
    );
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    const rssAfter = rssMb(receiver.child.pid!);
    console.log(
      `      receiver RSS: ${rssBefore.toFixed(0)} MB after warm-up, ${rssAfter.toFixed(0)} MB after the fuzz`,
    );
    // Bodies are refused past 256 KiB (1 MiB for batches) and nothing is kept per request:
    // memory may grow with V8's heap sizing, never with what was sent.
    expect(rssAfter).to.be.below(rssBefore + 150);
  });
});

/** A POST that announces `declared` bytes and sends `part` of them, a byte every `byteEveryMs` (0: at once). */
function stallingPost(
  base: URL,
  path: string,
  declared: number,
  part: number,
  byteEveryMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    let raw = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      raw += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 0) reject(new Error(`no answer: ${raw.slice(0, 200)}`));
      resolve({
        status,
        type: /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? '',
        text: Buffer.from(rest.join('\r\n\r\n'), 'latin1').toString('utf8'),
      });
    });
    socket.setTimeout(ANSWER_WITHIN_MS, () => socket.destroy());
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${base.host}\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${ANY_TOKEN}\r\nContent-Length: ${declared}\r\n\r\n`,
    );
    const body = `{"cpu":${'1'.repeat(Math.max(0, declared))}`.slice(0, part);
    if (byteEveryMs === 0) {
      socket.write(body);
      return;
    }
    let at = 0;
    const drip = () => {
      if (at >= body.length || socket.destroyed) return;
      socket.write(body[at++]!);
      timer = setTimeout(drip, byteEveryMs);
    };
    drip();
  });
}

// ---- limits that keep one agent from hurting the rest -------------------------

describe('receiver limits on store growth', function () {
  this.timeout(60_000);
  let nats: ServerProcess;
  let redisServer: ServerProcess;
  let redis: Redis;
  const receivers: RunningReceiver[] = [];

  const receiverWith = async (settings: Record<string, string>) => {
    const receiver = await receiverOn({
      NATS_URL: nats.url,
      REDIS_URL: redisServer.url,
      ...settings,
    });
    receivers.push(receiver);
    return receiver;
  };
  const post = (receiver: RunningReceiver, host: string, metrics: Record<string, number>) =>
    postSample(receiver.url, metrics, { 'loadstar-host': host });

  before(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    redis = new Redis(redisServer.url);
  });
  beforeEach(() => redis.flushdb());
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.stop()));
  });
  after(async () => {
    redis.disconnect();
    for (const server of [nats, redisServer]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
  });

  it('refuses a new host with 429 naming MAX_HOSTS and the host, while existing hosts keep posting', async () => {
    const receiver = await receiverWith({ MAX_HOSTS: '3' });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => uniqueName(x)) as [
      string,
      string,
      string,
      string,
    ];
    for (const host of [a, b, c])
      expect((await post(receiver, host, { cpu: 1 })).status).to.equal(200);
    const refused = await post(receiver, d, { cpu: 1 });
    expect(refused.status).to.equal(429);
    expect(refused.body.error)
      .to.include('MAX_HOSTS')
      .and.include(`new host '${d}' refused`)
      .and.include('holds 3 hosts, the limit of 3');
    expect(await redis.zscore(keys.hosts, d)).to.equal(null);
    expect((await post(receiver, a, { cpu: 2, brand_new: 1 })).status).to.equal(200);
    expect(await redis.zcard(keys.hosts)).to.equal(3);
  });

  it('refuses a new metric with 429 naming MAX_METRICS_PER_HOST, the host and the metric; known ones and other hosts keep posting', async () => {
    const receiver = await receiverWith({ MAX_METRICS_PER_HOST: '5' });
    const [host, other] = [uniqueName('h'), uniqueName('o')];
    expect((await post(receiver, host, { m1: 1, m2: 1, m3: 1 })).status).to.equal(200);
    expect((await post(receiver, host, { m1: 2, m4: 1, m5: 1 })).status).to.equal(200);
    const refused = await post(receiver, host, { m1: 3, m6: 1 });
    expect(refused.status).to.equal(429);
    expect(refused.body.error)
      .to.include('MAX_METRICS_PER_HOST')
      .and.include(`host '${host}' reports 5 metrics`)
      .and.include("new metric 'm6' would pass the limit of 5");
    expect(await redis.hget(keys.hostLatest(host), 'm1')).to.match(/\|2$/);
    expect((await post(receiver, host, { m1: 4, m2: 4, m3: 4, m4: 4, m5: 4 })).status).to.equal(
      200,
    );
    expect((await post(receiver, other, { m1: 1, m2: 1, m3: 1, m4: 1, m5: 1 })).status).to.equal(
      200,
    );
    expect(await redis.scard(keys.metrics(host))).to.equal(5);
  });

  it('refuses only the samples of a batch beyond a limit, by index, and stores the rest', async () => {
    const receiver = await receiverWith({ MAX_HOSTS: '2', MAX_METRICS_PER_HOST: '2' });
    const [a, b, c] = ['a', 'b', 'c'].map((x) => uniqueName(x)) as [string, string, string];
    const res = await fetch(new URL('/data/batch', receiver.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        samples: [
          { host: a, metrics: { x: 1, y: 1 } },
          { host: b, metrics: { x: 1 } },
          { host: c, metrics: { x: 1 } },
          { host: a, metrics: { z: 1 } },
          { host: b, metrics: { y: 1 } },
        ],
      }),
    });
    const body = (await res.json()) as {
      accepted: number;
      rejected: { index: number; error: string }[];
    };
    expect(res.status).to.equal(200);
    expect(body.accepted).to.equal(3);
    expect(body.rejected.map((r) => r.index)).to.deep.equal([2, 3]);
    expect(body.rejected[0]!.error).to.include('MAX_HOSTS');
    expect(body.rejected[1]!.error).to.include('MAX_METRICS_PER_HOST').and.include("'z'");
    expect((await redis.zrange(keys.hosts, '0', '-1')).sort()).to.deep.equal([a, b].sort());
  });

  it('holds each limit exactly within one receiver under 40 concurrent newcomers', async () => {
    const receiver = await receiverWith({ MAX_HOSTS: '10', MAX_METRICS_PER_HOST: '10' });
    const hosts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => post(receiver, uniqueName(`race${i}`), { cpu: 1 })),
    );
    expect(hosts.filter((r) => r.status === 200)).to.have.length(10);
    expect(hosts.filter((r) => r.status === 429)).to.have.length(30);
    expect(await redis.zcard(keys.hosts)).to.equal(10);
    const known = (await redis.zrange(keys.hosts, '0', '0'))[0]!;
    const names = await Promise.all(
      Array.from({ length: 40 }, (_, i) => post(receiver, known, { [`n${i}`]: 1 })),
    );
    expect(names.filter((r) => r.status === 200)).to.have.length(9);
    expect(await redis.scard(keys.metrics(known))).to.equal(10);
  });

  it('lets several receivers racing pass a limit by no more than the newcomers each let in at once', async () => {
    const limit = { MAX_HOSTS: '10' };
    const [one, two] = [await receiverWith(limit), await receiverWith(limit)];
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post(i % 2 ? one : two, uniqueName(`pair${i}`), { cpu: 1 }),
      ),
    );
    const admitted = answers.filter((r) => r.status === 200).length;
    const stored = await redis.zcard(keys.hosts);
    expect(stored).to.equal(admitted);
    // Each receiver alone never passes its room of 10; together at most twice that.
    expect(stored).to.be.within(10, 20);
    expect((await post(one, uniqueName('late'), { cpu: 1 })).status).to.equal(429);
  });

  it('counts the refusals by limit in /metrics', async () => {
    const receiver = await receiverWith({ MAX_HOSTS: '1', MAX_METRICS_PER_HOST: '1' });
    const host = uniqueName('first');
    await post(receiver, host, { a: 1 });
    expect((await post(receiver, uniqueName('second'), { a: 1 })).status).to.equal(429);
    expect((await post(receiver, host, { b: 1 })).status).to.equal(429);
    const text = await (await fetch(new URL('/metrics', receiver.url))).text();
    expect(text).to.match(/loadstar_samples_rejected_total\{reason="host_limit"[^}]*\} 1/);
    expect(text).to.match(/loadstar_samples_rejected_total\{reason="metric_limit"[^}]*\} 1/);
  });

  it('keeps accepting every host and name it holds after the limits are lowered under it; only newcomers get 429', async () => {
    const host = uniqueName('past');
    const off = await receiverWith({ MAX_HOSTS: '0', MAX_METRICS_PER_HOST: '0' });
    for (const name of ['a', 'b', 'c'])
      expect((await post(off, host, { [name]: 1 })).status).to.equal(200);
    expect((await post(off, uniqueName('other'), { a: 1 })).status).to.equal(200);
    // Restarted with limits the store is already past: 2 hosts over MAX_HOSTS=1, 3 names over 2.
    await off.stop();
    receivers.splice(receivers.indexOf(off), 1);
    const lowered = await receiverWith({ MAX_HOSTS: '1', MAX_METRICS_PER_HOST: '2' });

    const known = await post(lowered, host, { a: 1.5 });
    expect(known.status, JSON.stringify(known.body)).to.equal(200);
    expect((await post(lowered, host, { a: 2, b: 2, c: 2 })).status).to.equal(200);
    const newName = await post(lowered, host, { a: 3, d: 1 });
    expect(newName.status).to.equal(429);
    expect(newName.body.error)
      .to.include(`host '${host}' reports 3 metrics`)
      .and.include("new metric 'd' would pass the limit of 2");
    const newHost = await post(lowered, uniqueName('late'), { a: 1 });
    expect(newHost.status).to.equal(429);
    expect(newHost.body.error).to.include('MAX_HOSTS');

    const batch = await fetch(new URL('/data/batch', lowered.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'loadstar-host': host },
      body: JSON.stringify({ samples: [{ metrics: { b: 4 } }, { metrics: { e: 4 } }] }),
    });
    const body = (await batch.json()) as { accepted: number; rejected: { index: number }[] };
    expect(batch.status).to.equal(200);
    expect(body.accepted).to.equal(1);
    expect(body.rejected.map((r) => r.index)).to.deep.equal([1]);
    expect(await redis.hget(keys.hostLatest(host), 'b')).to.match(/\|4$/);
    expect((await redis.smembers(keys.metrics(host))).sort()).to.deep.equal(['a', 'b', 'c']);
  });

  it('never answers a valid sample with a 5xx, with hosts near and past MAX_HOSTS and MAX_METRICS_PER_HOST', async () => {
    // Three receivers on one store: one without limits grows hosts and names past the
    // other two, whose limits are near what the generated pools reach.
    const limits = [
      { MAX_HOSTS: '0', MAX_METRICS_PER_HOST: '0' },
      { MAX_HOSTS: '8', MAX_METRICS_PER_HOST: '8' },
      { MAX_HOSTS: '4', MAX_METRICS_PER_HOST: '4' },
    ];
    const targets = await Promise.all(limits.map((l) => receiverWith(l)));
    const tally = new AnswerTally();
    let round = 0;
    const names = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const valid = fc.record({
      to: fc.nat({ max: targets.length - 1 }),
      host: fc.nat({ max: 11 }),
      metrics: fc.dictionary(
        fc.constantFrom(...names),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        { minKeys: 1, maxKeys: 5 },
      ),
      batch: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(valid, { minLength: 20, maxLength: 20 }), async (cases) => {
        // Each run starts from an empty store with hosts of its own, so it passes near the limits again.
        await redis.flushdb();
        round++;
        const hostOf = (i: number) => `r${round}-h${i}`;
        const stored = new Map<string, Set<string>>();
        // Twice over the same cases: the second time, much of what they name is stored.
        for (const pass of [1, 2]) {
          const known = new Map([...stored].map(([h, n]) => [h, new Set(n)]));
          tally.sent += cases.length;
          const answers = await Promise.all(
            cases.map(async (c) => {
              const host = hostOf(c.host);
              const url = targets[c.to]!.url;
              if (!c.batch) return post(targets[c.to]!, host, c.metrics);
              const res = await fetch(new URL('/data/batch', url), {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'loadstar-host': host },
                body: JSON.stringify({ samples: [{ metrics: c.metrics }] }),
              });
              return { status: res.status, body: (await res.json()) as Record<string, unknown> };
            }),
          );
          answers.forEach((a, i) => {
            const c = cases[i]!;
            const what = `pass ${pass}: ${JSON.stringify(c)} -> ${a.status} ${JSON.stringify(a.body)}`;
            const host = hostOf(c.host);
            const wasKnown = Object.keys(c.metrics).every((n) => known.get(host)?.has(n));
            let refusal: string | undefined;
            if (c.batch) {
              expect(a.status, what).to.equal(200);
              refusal = (a.body.rejected as { error: string }[])[0]?.error;
            } else {
              expect(a.status, what).to.be.oneOf([200, 429]);
              refusal = a.status === 429 ? String(a.body.error) : undefined;
            }
            tally.count(
              refusal === undefined
                ? 200
                : refusal.includes('MAX_HOSTS')
                  ? 'host_limit'
                  : 'metric_limit',
            );
            if (refusal === undefined) {
              const held = stored.get(host) ?? new Set();
              for (const n of Object.keys(c.metrics)) held.add(n);
              stored.set(host, held);
              return;
            }
            expect(refusal, what).to.match(/MAX_HOSTS|MAX_METRICS_PER_HOST/);
            // What the store held before this pass is always accepted, whatever the limit.
            expect(wasKnown, `a stored host and names refused: ${what}`).to.equal(false);
          });
        }
      }),
      propertyRuns(SEED + 3, 1_200, { together: 40 }),
    );
    console.log(tally.summary('limits', SEED + 3));
    // The generated cases reach past both limits, and most still get in.
    for (const kind of [200, 'host_limit', 'metric_limit'])
      expect(tally.get(kind), String(kind)).to.be.above(0);
  });

  it('answers 408 to a sender writing its body a byte at a time, and serves others meanwhile', async () => {
    const receiver = await receiverWith({ BODY_TIMEOUT: '1s' });
    const url = new URL(receiver.url.href);
    // Twenty slow senders hold connections; a byte every 100 ms would need 6 s for these bodies.
    const slow = Array.from({ length: 20 }, () => stallingPost(url, url.pathname, 60, 60, 100));
    let slowAnswered = 0;
    for (const s of slow)
      void s.then(
        () => slowAnswered++,
        () => {},
      );
    const host = uniqueName('meanwhile');
    const ok = await post(receiver, host, { cpu: 1 });
    expect(ok.status).to.equal(200);
    expect(slowAnswered, 'the quick post was answered while the slow ones still dripped').to.equal(
      0,
    );
    for (const answer of await Promise.all(slow)) {
      expect(answer.status).to.equal(408);
      expect(JSON.parse(answer.text).error).to.equal('body did not arrive within 1000 ms');
    }
  });
});
