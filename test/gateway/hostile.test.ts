// Hostile input against the gateway: generated paths, query strings and
// headers over HTTP, and generated gRPC requests (typed and raw bytes), against
// a gateway process. Every HTTP answer is a 2xx or a 4xx (errors as JSON), every
// gRPC call ends with a client-side status or stays open as asked; nothing
// hangs, the process stays up and its memory bounded.
//
// FUZZ_RUNS=n generates n requests per property instead of the defaults below;
// FUZZ_SEED=n replays a reported failure.
import { Agent, request as httpRequest } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  createLoadstarClient,
  type LatestReply__Output,
  type LoadstarClient,
  type SubscribeRequest,
  type WatchIncidentsRequest,
} from '../../proto/grpc.ts';
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
import { getJson, postSample, receiverOn } from '../harness/pipeline.ts';
import { isAlive, runScript, type ServiceProcess } from '../harness/processes.ts';
import {
  freePort,
  removeDir,
  type ServerProcess,
  startNats,
  startRedis,
} from '../harness/servers.ts';

const SEED = fuzzSeed(20_261_124);
const API_TOKEN = 'gateway-api-token-0123456789';
const BASE = '/mon/';

// ---- HTTP -------------------------------------------------------------------

interface Hostile {
  method: string;
  /** Path and query as written on the request line. */
  target: string;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  type: string;
  text: string;
  location?: string;
  allow?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(base: URL, r: Hostile): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.target,
        headers: r.method === 'POST' ? { ...r.headers, 'content-length': '0' } : r.headers,
        agent,
        timeout: ANSWER_WITHIN_MS,
      },
      (res) => {
        const answer: Answer = {
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          text: '',
          location: res.headers.location,
          allow: res.headers.allow,
        };
        // The live stream never ends: its head is the answer.
        if (answer.type.startsWith('text/event-stream')) {
          req.destroy();
          resolve(answer);
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (d) => {
          answer.text += d;
        });
        res.on('end', () => resolve(answer));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Answers that are not JSON by design: the dashboard, /docs, /metrics and the live stream. */
const NOT_JSON =
  /^(text\/html|text\/css|text\/javascript|image\/png|text\/plain|text\/event-stream)\b/;

/** Node refuses a request head over 16 KiB itself (431, no body), before the gateway sees it. */
const NODE_HEAD_LIMIT = 16 * 1024;

function headBytes(r: Hostile): number {
  let bytes = Buffer.byteLength(`${r.method} ${r.target} HTTP/1.1\r\n`);
  for (const [name, value] of Object.entries(r.headers)) bytes += name.length + value.length + 4;
  return bytes;
}

function problemWith(r: Hostile, a: Answer): string | null {
  const { status } = a;
  // A margin for the headers the client adds (Host, Connection).
  if (status === 431 && headBytes(r) > NODE_HEAD_LIMIT - 200) return null;
  if (r.method === 'OPTIONS' && status >= 200 && status < 300 && a.allow) return null;
  // /docs/ sends the browser to /docs, on this gateway.
  if (status === 302 && a.location !== undefined && !/^[a-z]+:/i.test(a.location)) return null;
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500)))
    return `status ${status}: ${a.text.slice(0, 200)}`;
  if (status < 300 && NOT_JSON.test(a.type)) return null;
  if (!/^application\/json\b/.test(a.type)) return `status ${status} with content type ${a.type}`;
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `status ${status} with a body that is not JSON: ${a.text.slice(0, 200)}`;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (status >= 400 && (typeof error !== 'string' || error === ''))
    return `status ${status} without an error message: ${a.text.slice(0, 200)}`;
  return null;
}

const headerText = fc.string({
  unit: fc
    .integer({ min: 0x20, max: 0xff })
    .filter((c) => c !== 0x7f)
    .map((c) => String.fromCharCode(c)),
  maxLength: 30,
});

/** Names that look right and are not, as in the receiver's fuzz. */
const LOOK_ALIKES = [
  'сpu',
  'ｃｐｕ',
  'cpu\u200b',
  '__proto__',
  'constructor',
  'c p u',
  'a'.repeat(129),
  '\u0000',
  '\ud800',
];

const name = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('cpu', 'mem', 'load.1', 'nothing', 'web-01', 'web-02') },
  { weight: 2, arbitrary: fc.constantFrom(...LOOK_ALIKES) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);

/** Percent-encodes, except now and then where it leaves a broken escape in. */
const encoded = fc.oneof(
  { weight: 8, arbitrary: name.map((n) => encodeURIComponent(n.replace(/[\ud800-\udfff]/g, ''))) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%2C%2C', '%C0%AF', '+') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.~-]{0,3000}$/) },
);

const value = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(encoded, { minLength: 0, maxLength: 6 }).map((v) => v.join(',')),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'raw',
      '1m',
      '5m',
      'open',
      'resolved',
      'all',
      'yes',
      'no',
      '0',
      '-1',
      '1e400',
      '99999999999999999999',
      'NaN',
      String(Date.now()),
      String(Date.now() - 3_600_000),
      '2026-11-23T00:00:00Z',
      '2026-13-45T99:99:99Z',
    ),
  },
  // More names than MAX_TOPICS (1000).
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 1_200 }, (_, i) => `m${i}`).join(',')) },
  // PromQL: token soup, and trees deep enough to overflow a recursive parser or evaluator.
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.constantFrom(
          'sum',
          'rate',
          'topk',
          'by',
          'without',
          'offset',
          'bool',
          'on',
          'and',
          'or',
          '(',
          ')',
          '[5m]',
          '[',
          ']',
          '{',
          '}',
          ',',
          'cpu',
          'load_1',
          'host',
          '=',
          '=~',
          '!~',
          '"web.*"',
          '"(a+)+$"',
          '"',
          '\\',
          '+',
          '-',
          '*',
          '/',
          '^',
          '>',
          '==',
          '5',
          '1e400',
          'NaN',
          '@',
          '1m',
          ':',
          'histogram_quantile',
          '#',
        ),
        { maxLength: 20 },
      )
      .map((tokens) => encodeURIComponent(tokens.join(' '))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${'('.repeat(5_000)}1${')'.repeat(5_000)}`,
      `1${'%2B1'.repeat(2_500)}`,
      `${'-'.repeat(5_000)}1`,
      `${'sum('.repeat(1_500)}cpu${')'.repeat(1_500)}`,
      encodeURIComponent('{host=~"(a+)+$"}'),
      encodeURIComponent('{__name__=~".+"}'),
    ),
  },
);

const query = fc
  .array(
    fc.tuple(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc.constantFrom(
            'topics',
            'host',
            'metric',
            'from',
            'to',
            'step',
            'state',
            'since',
            'confirm',
            'query',
            'time',
            'start',
            'end',
            'match[]',
            'limit',
          ),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom('topics[]', 'topics[0]', '__proto__', 'constructor', ''),
        },
      ),
      value,
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const path = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom(
      '',
      'api/v1/latest',
      'api/v1/hosts',
      'api/v1/summary',
      'api/v1/metrics',
      'api/v1/history',
      'api/v1/recording',
      'api/v1/incidents',
      'api/v1/incidents/3f9c2a71b8d04e65',
      'api/v1/stream',
      'healthz',
      'readyz',
      'openapi.json',
    ),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'api/v1/query',
      'api/v1/query_range',
      'api/v1/series',
      'api/v1/labels',
      'api/v1/label/host/values',
      'api/v1/label/__name__/values',
      'api/v1/label/a-b/values',
      'api/v1/metadata',
      'api/v1/status/buildinfo',
      'federate',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'api/v1/recording/pause',
      'api/v1/recording/resume',
      'api/v1/recording/reset',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'metrics',
      'docs',
      'docs/',
      'docs/nope.js',
      'dashboard/app.js',
      'dashboard/..%2F..%2Fpackage.json',
      'dashboard/%2e%2e%2fpackage.json',
      'dashboard/__proto__',
      'api/v1/incidents/INC-1',
      'api/v1/incidents/%zz',
      'api/v2/latest',
      '%zz',
      '..%2f..%2fetc%2fpasswd',
    ),
  },
  { weight: 1, arbitrary: fc.array(encoded, { maxLength: 4 }).map((s) => s.join('/')) },
);

const httpRequestArb = fc
  .record({
    method: fc.oneof(
      { weight: 10, arbitrary: fc.constant('GET') },
      { weight: 3, arbitrary: fc.constant('POST') },
      { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'PATCH') },
    ),
    prefix: fc.oneof(
      { weight: 20, arbitrary: fc.constant(BASE) },
      { weight: 1, arbitrary: fc.constantFrom('/', '/mon', '//mon/', '/MON/') },
    ),
    path,
    query,
    accept: fc.constantFrom(undefined, 'application/json', 'text/html', '*/*', 'text/event-stream'),
    authorization: fc.constantFrom(
      undefined,
      `Bearer ${API_TOKEN}`,
      `Bearer ${API_TOKEN}x`,
      'Bearer ',
      `Basic ${API_TOKEN}`,
    ),
    noise: fc.option(headerText),
  })
  .map(({ method, prefix, path, query, accept, authorization, noise }): Hostile => {
    const headers: Record<string, string> = {};
    if (accept) headers.accept = accept;
    if (authorization) headers.authorization = authorization;
    if (noise !== null) headers['x-noise'] = noise;
    return { method, target: `${prefix}${path}${query}`, headers };
  });

// ---- gRPC -------------------------------------------------------------------

type Call =
  | { rpc: 'Latest'; request: { topics: string[]; host: string } }
  | { rpc: 'Subscribe'; request: SubscribeRequest }
  | { rpc: 'WatchIncidents'; request: WatchIncidentsRequest }
  | { rpc: 'raw'; method: 'Latest' | 'Subscribe' | 'WatchIncidents'; bytes: Uint8Array };

/** Statuses a client earns by what it asked; CANCELLED is our own end of an open stream. */
const CLIENT_STATUSES = new Set([
  grpc.status.OK,
  grpc.status.CANCELLED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.OUT_OF_RANGE,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.RESOURCE_EXHAUSTED,
]);

/** How long a stream must stay quiet (no error) to count as open, as asked. */
const STREAM_OPEN_MS = 100;

const grpcText = fc.oneof(
  { weight: 4, arbitrary: name },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
);
const seq = fc.oneof(
  fc.constantFrom('0', '1', '2', '1000000', '18446744073709551615', '9007199254740993'),
  fc.bigInt({ min: 0n, max: 18_446_744_073_709_551_615n }).map(String),
);

const grpcCall: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        topics: fc.oneof(
          { weight: 9, arbitrary: fc.array(grpcText, { maxLength: 6 }) },
          { weight: 1, arbitrary: fc.constant(Array.from({ length: 1_200 }, (_, i) => `m${i}`)) },
        ),
        host: fc.oneof(fc.constant(''), grpcText),
      })
      .map((request) => ({ rpc: 'Latest' as const, request })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        topics: fc.array(grpcText, { maxLength: 4 }),
        hosts: fc.array(grpcText, { maxLength: 4 }),
        from_seq: seq,
      })
      .map((request) => ({ rpc: 'Subscribe' as const, request })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ hosts: fc.array(grpcText, { maxLength: 4 }), from_seq: seq })
      .map((request) => ({ rpc: 'WatchIncidents' as const, request })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        method: fc.constantFrom('Latest' as const, 'Subscribe' as const, 'WatchIncidents' as const),
        bytes: fc.uint8Array({ maxLength: 64 }),
      })
      .map(({ method, bytes }) => ({ rpc: 'raw' as const, method, bytes })),
  },
);

interface Outcome {
  code: grpc.status;
  details: string;
}

function unary(
  client: LoadstarClient,
  request: { topics: string[]; host: string },
): Promise<Outcome> {
  return new Promise((resolve) => {
    client.Latest(
      request,
      { deadline: Date.now() + ANSWER_WITHIN_MS },
      (err: grpc.ServiceError | null, _reply?: LatestReply__Output) =>
        resolve(
          err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' },
        ),
    );
  });
}

/** Opens a stream; its outcome is its error, or CANCELLED when it stayed open until we ended it. */
function stream(call: grpc.ClientReadableStream<unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => call.cancel(), STREAM_OPEN_MS);
    call.on('data', () => {});
    call.on('error', (err: grpc.ServiceError) => {
      clearTimeout(timer);
      resolve({ code: err.code, details: err.details });
    });
    call.on('status', (status: grpc.StatusObject) => {
      clearTimeout(timer);
      resolve({ code: status.code, details: status.details });
    });
  });
}

const passBytes = (b: Uint8Array) => Buffer.from(b);

function callOnce(client: LoadstarClient, raw: grpc.Client, c: Call): Promise<Outcome> {
  const deadline = { deadline: Date.now() + ANSWER_WITHIN_MS };
  switch (c.rpc) {
    case 'Latest':
      return unary(client, c.request);
    case 'Subscribe':
      return stream(client.Subscribe(c.request, deadline));
    case 'WatchIncidents':
      return stream(client.WatchIncidents(c.request, deadline));
    case 'raw': {
      const path = `/loadstar.v1.Loadstar/${c.method}`;
      if (c.method === 'Latest') {
        return new Promise((resolve) =>
          raw.makeUnaryRequest(path, passBytes, passBytes, c.bytes, deadline, (err) =>
            resolve(
              err
                ? { code: err.code, details: err.details }
                : { code: grpc.status.OK, details: '' },
            ),
          ),
        );
      }
      return stream(raw.makeServerStreamRequest(path, passBytes, passBytes, c.bytes, deadline));
    }
  }
}

function grpcProblem(c: Call, o: Outcome): string | null {
  if (CLIENT_STATUSES.has(o.code)) return null;
  // Bytes that are no protobuf message are refused by grpc-js itself, before any handler runs.
  if (
    c.rpc === 'raw' &&
    o.code === grpc.status.INTERNAL &&
    o.details === 'Error deserializing request'
  )
    return null;
  return `status ${grpc.status[o.code]} (${o.details})`;
}

// ---- the gateway as a process, fuzzed -----------------------------------------

describe('gateway under hostile input', function () {
  this.timeout(FUZZ_SUITE_TIMEOUT_MS);
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let gateway: ServiceProcess;
  let base: URL;
  let grpcAddress: string;
  let client: LoadstarClient;
  let raw: grpc.Client;
  let rssBefore = 0;
  const answers = new AnswerTally();

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    base = new URL(`http://127.0.0.1:${httpPort}${BASE}`);
    grpcAddress = `127.0.0.1:${grpcPort}`;
    gateway = runScript('gateway/main.ts', {
      ...env,
      WEB_SERVER_URL: base.href,
      GRPC_URL: grpcAddress,
      API_TOKEN,
      LOG_LEVEL: 'error',
    });
    receiver = await receiverOn(env);
    // Something to read: two hosts with history over the last minutes.
    const now = Date.now();
    for (const host of ['web-01', 'web-02']) {
      for (let i = 0; i < 20; i++) {
        await postSample(
          receiver.url,
          { cpu: i, mem: 50 + i, 'load.1': i / 10 },
          {
            'loadstar-host': host,
            'loadstar-time': String(now - (20 - i) * 15_000),
            'loadstar-interval': '15',
          },
        );
      }
    }
    await eventually(
      async () => expect((await getJson(new URL('readyz', base))).status).to.equal(200),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    client = createLoadstarClient(grpcAddress);
    raw = new grpc.Client(grpcAddress, grpc.credentials.createInsecure());
    // Warm up before measuring memory.
    await Promise.all(Array.from({ length: 200 }, () => getJson(new URL('?topics=cpu,mem', base))));
    rssBefore = rssMb(gateway.child.pid!);
  });

  after(async () => {
    agent.destroy();
    client?.close();
    raw?.close();
    await receiver?.stop();
    if (gateway) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    for (const server of [nats, redis]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
    console.log(answers.summary('gateway', SEED));
  });

  it('answers every generated HTTP request with a 2xx or a 4xx (errors as JSON), in time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(httpRequestArb, { minLength: CONCURRENCY, maxLength: CONCURRENCY }),
        async (requests) => {
          answers.sent += requests.length;
          const got = await Promise.all(
            requests.map((r) => send(base, r).catch((err: Error) => err)),
          );
          got.forEach((a, i) => {
            const r = requests[i]!;
            const problem = a instanceof Error ? `no answer: ${a.message}` : problemWith(r, a);
            if (problem)
              throw new Error(
                `${problem} for ${r.method} ${r.target} ${JSON.stringify(r.headers)}`,
              );
            answers.count(`http ${(a as Answer).status}`);
          });
        },
      ),
      propertyRuns(SEED, 3_000),
    );
    for (const status of [200, 400, 401, 404])
      expect(answers.get(`http ${status}`), `answers ${status}`).to.be.above(0);
  });

  it('ends every generated gRPC call with a client-side status, or keeps its stream open, in time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(grpcCall, { minLength: CONCURRENCY, maxLength: CONCURRENCY }),
        async (calls) => {
          answers.sent += calls.length;
          const outcomes = await Promise.all(calls.map((c) => callOnce(client, raw, c)));
          outcomes.forEach((o, i) => {
            const c = calls[i]!;
            const problem = grpcProblem(c, o);
            if (problem) {
              const what =
                c.rpc === 'raw'
                  ? `raw ${c.method} ${Buffer.from(c.bytes).toString('hex')}`
                  : `${c.rpc} ${JSON.stringify(c.request)}`;
              throw new Error(`${problem} for ${what}`);
            }
            answers.count(`grpc ${grpc.status[o.code]}`);
          });
        },
      ),
      propertyRuns(SEED + 1, 2_000),
    );
    for (const status of ['OK', 'INVALID_ARGUMENT', 'CANCELLED'])
      expect(answers.get(`grpc ${status}`), `answers ${status}`).to.be.above(0);
  });

  it('is still up, ready, answering, and within its memory bound afterwards', async () => {
    expect(isAlive(gateway.child.pid!)).to.equal(true);
    expect((await getJson(new URL('readyz', base))).status).to.equal(200);
    const values = await getJson(new URL('?topics=cpu&host=web-01', base));
    expect(values.status).to.equal(200);
    expect(values.text).to.equal('{"cpu":19.0}');
    const reply = await unary(client, { topics: ['cpu'], host: 'web-02' });
    expect(reply.code).to.equal(grpc.status.OK);
    await eventually(async () => {
      const subscribers = (await (await fetch(new URL('metrics', base))).text()).match(
        /^loadstar_grpc_subscribers\{[^}]*service="gateway"[^}]*\} (\d+)/m,
      );
      // Every stream the fuzz opened was ended: none is left holding a queue.
      expect(subscribers?.[1]).to.equal('0');
    });
    const rssAfter = rssMb(gateway.child.pid!);
    console.log(
      `      gateway RSS: ${rssBefore.toFixed(0)} MB after warm-up, ${rssAfter.toFixed(0)} MB after the fuzz`,
    );
    expect(rssAfter).to.be.below(rssBefore + 150);
  });
});
