// The OpenAPI document against the real services: it lists exactly the routes
// the gateway and receiver register, its examples pass the real validation and
// have the shape of real answers, and /docs works offline in a real browser.
import { request } from 'node:http';
import type Router from '@koa/router';
import { expect } from 'chai';
import type Koa from 'koa';
import { type Browser, chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { readGatewayConfig } from '../../gateway/config.ts';
import { createGatewayApp, type GatewayHttpDeps } from '../../gateway/http.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import { createMemoryLog } from '../../proto/log.ts';
import { openApiDocument } from '../../proto/openapi/document.ts';
import type {
  MediaType,
  OpenApiDocument,
  Operation,
  Parameter,
  Reference,
  Response,
  Schema,
} from '../../proto/openapi/oas.ts';
import { readReceiverConfig } from '../../receiver/config.ts';
import { createReceiverApp, HEADERS, type ReceiverDeps } from '../../receiver/http.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, receiverOn } from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

// ---- reading the document ---------------------------------------------------

const METHODS = ['get', 'post'] as const;

interface Located {
  path: string;
  method: (typeof METHODS)[number];
  operation: Operation;
}

function operations(doc: OpenApiDocument): Located[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = item[method];
      return operation ? [{ path, method, operation }] : [];
    }),
  );
}

/** Follows a local `$ref` (a JSON pointer into the document). */
function resolve(doc: OpenApiDocument, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`$ref ${ref} is not local`);
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key))
      throw new Error(`$ref ${ref} does not resolve`);
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function deref<T extends object>(doc: OpenApiDocument, value: T | Reference): T {
  return '$ref' in value && typeof value.$ref === 'string'
    ? { ...(resolve(doc, value.$ref) as T), ...withoutRef(value) }
    : (value as T);
}

function withoutRef(value: object): object {
  const { $ref: _ignored, ...rest } = value as Reference;
  return rest;
}

const parametersOf = (doc: OpenApiDocument, op: Operation): Parameter[] =>
  (op.parameters ?? []).map((p) => deref<Parameter>(doc, p));

const responseOf = (doc: OpenApiDocument, op: Operation, status: number): Response | undefined => {
  const r = op.responses[String(status)];
  return r && deref<Response>(doc, r);
};

/** A path template with its parameters in OpenAPI's braces. */
const template = (routerPath: string) => routerPath.replace(/:(\w+)/g, '{$1}');

// ---- a small JSON Schema check, for the keywords the document uses -----------

/**
 * Checks `value` against `schema`. Strict: an object schema that lists its
 * properties and says nothing of others refuses undocumented keys, so a field
 * added to an answer and not to the document fails here.
 */
function check(doc: OpenApiDocument, schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) return check(doc, resolve(doc, schema.$ref) as Schema, value, at);
  const errors: string[] = [];
  const fail = (problem: string) => errors.push(`${at}: ${JSON.stringify(value)} ${problem}`);
  const passes = (s: Schema) => check(doc, s, value, at).length === 0;
  if (schema.type !== undefined) {
    const types = [schema.type].flat();
    if (!types.some((t) => isType(t, value))) {
      fail(`is not ${types.join(' or ')}`);
      return errors;
    }
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    fail(`is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.some((e) => e === value))
    fail(`is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.pattern && typeof value === 'string' && !new RegExp(schema.pattern).test(value))
    fail(`does not match ${schema.pattern}`);
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum)
    fail(`is below ${schema.minimum}`);
  if (schema.format === 'date-time' && typeof value === 'string') {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value))
      fail('is not an RFC 3339 date-time');
  }
  if (schema.not && passes(schema.not)) fail('matches what it must not');
  if (schema.anyOf && !schema.anyOf.some(passes)) fail('matches none of anyOf');
  if (schema.oneOf && schema.oneOf.filter(passes).length !== 1)
    fail(`matches ${schema.oneOf.filter(passes).length} of oneOf, not exactly one`);
  if (isType('object', value)) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    for (const key of schema.required ?? [])
      if (!Object.hasOwn(object, key)) errors.push(`${at}: has no ${key}`);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties)
      fail(`has fewer than ${schema.minProperties} properties`);
    for (const key of keys) {
      const where = `${at}.${key}`;
      if (schema.propertyNames)
        errors.push(...check(doc, schema.propertyNames, key, `${where} (name)`));
      const declared = schema.properties?.[key];
      if (declared) errors.push(...check(doc, declared, object[key], where));
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...check(doc, schema.additionalProperties, object[key], where));
      else if (
        schema.additionalProperties === false ||
        (schema.properties && schema.additionalProperties === undefined)
      )
        errors.push(`${where}: is not documented`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      fail(`has fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      fail(`has more than ${schema.maxItems} items`);
    value.forEach((item, i) => {
      const positional = schema.prefixItems?.[i];
      const rest = schema.items;
      if (positional) errors.push(...check(doc, positional, item, `${at}[${i}]`));
      else if (rest === false) errors.push(`${at}[${i}]: is beyond prefixItems`);
      else if (rest) errors.push(...check(doc, rest, item, `${at}[${i}]`));
    });
  }
  return errors;
}

function isType(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}

/** Differences in shape (keys, nesting) between a real answer and an example; null matches anything. */
function shapeDifferences(real: unknown, example: unknown, at = '$'): string[] {
  if (real === null || example === null) return [];
  if (Array.isArray(real) && Array.isArray(example)) {
    return real.length === 0 || example.length === 0
      ? []
      : shapeDifferences(real[0], example[0], `${at}[0]`);
  }
  if (isType('object', real) && isType('object', example)) {
    const r = real as Record<string, unknown>;
    const e = example as Record<string, unknown>;
    const keys = (o: object) => Object.keys(o).sort().join(',');
    if (keys(r) !== keys(e)) return [`${at}: keys ${keys(r)} vs the example's ${keys(e)}`];
    return Object.keys(r).flatMap((k) => shapeDifferences(r[k], e[k], `${at}.${k}`));
  }
  return typeof real === typeof example
    ? []
    : [`${at}: ${typeof real} vs the example's ${typeof example}`];
}

/** Error messages compared with numbers (sizes, times, limits) left out. */
const withoutNumbers = (text: string) => text.replace(/\d+/g, '#');

// ---- the routes the apps register ------------------------------------------

/** "METHOD /path/{param}" for every route of the app's routers (HEAD is implied by GET). */
function registeredRoutes(app: Koa): string[] {
  // @koa/router hangs the router on the middleware `routes()` returns.
  const routers = new Set(
    app.middleware.flatMap((m) => {
      const router = (m as { router?: Router }).router;
      return router ? [router] : [];
    }),
  );
  return [...routers].flatMap((router) =>
    router.stack.flatMap((layer) => {
      if (typeof layer.path !== 'string') throw new Error(`route ${layer.path} is a RegExp`);
      const path = template(layer.path);
      return layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${path}`);
    }),
  );
}

/** The apps as the services build them. Registering routes calls none of the services the handlers use, so none is given. */
function appRoutes(base: string, receiverPath: string): string[] {
  const log = createMemoryLog('openapi');
  const gateway: Partial<GatewayHttpDeps> = { base, log, registry: new Registry() };
  const receiver: Partial<ReceiverDeps> = {
    path: receiverPath,
    log,
    registry: new Registry(),
    limits: readReceiverConfig({}).limits,
  };
  return [
    ...registeredRoutes(createGatewayApp(gateway as GatewayHttpDeps)),
    ...registeredRoutes(createReceiverApp(receiver as ReceiverDeps)),
  ];
}

function documentedRoutes(doc: OpenApiDocument): string[] {
  return operations(doc).map(({ path, method }) => `${method.toUpperCase()} ${path}`);
}

// ---- the document on its own -------------------------------------------------

describe('OpenAPI document', () => {
  const configs = [
    ['/', '/data'],
    ['/mon/', '/ingest/v2'],
    ['/', '/'],
  ] as const;

  for (const [base, receiverPath] of configs) {
    it(`documents every route the services register and no other (base ${base}, receiver ${receiverPath})`, () => {
      const registered = new Set(appRoutes(base, receiverPath));
      const documented = new Set(documentedRoutes(openApiDocument(base, receiverPath)));
      expect(
        [...registered].filter((r) => !documented.has(r)),
        'registered, not documented',
      ).to.be.empty;
      expect(
        [...documented].filter((r) => !registered.has(r)),
        'documented, not registered',
      ).to.be.empty;
    });
  }

  it('serves the endpoints both services answer once per service, naming its servers', () => {
    const apart = openApiDocument('/mon/', '/data', {
      servers: { gateway: ['/'], receiver: ['http://r:8090'] },
    });
    expect(apart.paths['/mon/healthz']?.get?.servers).to.equal(undefined);
    expect(apart.paths['/healthz']?.get?.servers).to.deep.equal([
      { url: 'http://r:8090', description: 'receiver (RECEIVER_URL)' },
    ]);
    const together = openApiDocument('/', '/data', {
      servers: { gateway: ['/'], receiver: ['http://r:8090'] },
    });
    expect(together.paths['/healthz']?.get?.servers?.map((s) => s.url)).to.deep.equal([
      '/',
      'http://r:8090',
    ]);
    expect(together.paths['/data']?.post?.servers?.map((s) => s.url)).to.deep.equal([
      'http://r:8090',
    ]);
  });

  it('refuses paths where the two services would claim the same endpoint', () => {
    expect(() => openApiDocument('/', '/api/v1/recording/pause')).to.throw(
      'POST /api/v1/recording/pause belongs to two endpoints',
    );
  });

  it('is structurally sound: refs resolve, ids are unique, path parameters are declared', () => {
    const doc = openApiDocument('/mon/', '/data');
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else if (key === 'mapping') refs.push(...Object.values(value as Record<string, string>));
          else walk(value);
        }
      }
    };
    walk(doc);
    expect(refs).to.have.length.above(20);
    for (const ref of refs) expect(() => resolve(doc, ref), ref).not.to.throw();

    const ids = operations(doc).map((o) => o.operation.operationId);
    expect(new Set(ids).size, 'operationIds are unique').to.equal(ids.length);
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { path, method, operation } of operations(doc)) {
      const where = `${method} ${path}`;
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = parametersOf(doc, operation)
        .filter((p) => p.in === 'path')
        .map((p) => {
          expect(p.required, `${where}: path parameter ${p.name} is required`).to.equal(true);
          return p.name;
        });
      expect(declared, `${where}: path parameters`).to.deep.equal(inPath);
      for (const tag of operation.tags)
        expect(tags.has(tag), `${where}: tag ${tag}`).to.equal(true);
      for (const requirement of operation.security ?? [])
        for (const scheme of Object.keys(requirement))
          expect(doc.components.securitySchemes, where).to.have.property(scheme);
      expect(
        Object.keys(operation.responses).some((s) => /^2\d\d$/.test(s)),
        where,
      ).to.equal(true);
    }
  });

  it('has examples that satisfy their own schemas', () => {
    const doc = openApiDocument('/', '/data');
    let checked = 0;
    const media = (where: string, content: Record<string, MediaType> | undefined) => {
      for (const [type, { schema, examples }] of Object.entries(content ?? {})) {
        if (type !== 'application/json' || !schema) continue;
        for (const [name, example] of Object.entries(examples ?? {})) {
          expect(check(doc, schema, example.value), `${where} example ${name}`).to.deep.equal([]);
          checked++;
        }
      }
    };
    for (const { path, method, operation } of operations(doc)) {
      const where = `${method} ${path}`;
      for (const p of parametersOf(doc, operation)) {
        if (p.example === undefined) continue;
        expect(check(doc, p.schema, p.example), `${where} parameter ${p.name}`).to.deep.equal([]);
        checked++;
      }
      media(`${where} request`, operation.requestBody?.content);
      for (const status of Object.keys(operation.responses))
        media(`${where} ${status}`, responseOf(doc, operation, Number(status))?.content);
    }
    expect(checked).to.be.above(60);
  });

  it('documents every header the receiver reads', () => {
    const doc = openApiDocument('/', '/data');
    const ingest = doc.paths['/data']?.post;
    const headers = parametersOf(doc, ingest!)
      .filter((p) => p.in === 'header')
      .map((p) => p.name);
    expect(headers).to.have.members(Object.values(HEADERS));
  });

  it("takes the other service's URL from its settings, with the same default as that service", () => {
    expect(readGatewayConfig({}).receiverUrls.map((u) => u.href)).to.deep.equal([
      readReceiverConfig({}).url.href,
    ]);
    expect(readReceiverConfig({}).gatewayUrl.href).to.equal(readGatewayConfig({}).url.href);
    const config = readGatewayConfig({ RECEIVER_URL: 'http://a:8090/in,http://b:8090/in' });
    expect(config.receiverUrls.map((u) => u.href)).to.deep.equal([
      'http://a:8090/in',
      'http://b:8090/in',
    ]);
  });

  it("serves the receiver's copy with the gateway where the settings put it", async () => {
    const receiver = await receiverOn({
      WEB_SERVER_URL: 'http://gw.example:8080/mon',
      RECEIVER_URL: 'http://127.0.0.1:0/in',
    });
    try {
      const doc = (await getJson(new URL('/openapi.json', receiver.url))).body as OpenApiDocument;
      expect(doc.servers.map((s) => s.url)).to.deep.equal(['http://gw.example:8080']);
      expect(doc.paths).to.include.keys('/mon/api/v1/latest', '/in', '/in/batch', '/openapi.json');
      expect(doc.paths['/in']?.post?.servers?.map((s) => s.url)).to.deep.equal(['/']);
    } finally {
      await receiver.stop();
    }
  });
});

// ---- the document against the running services --------------------------------

interface Answer {
  status: number;
  type: string;
  text: string;
  retryAfter: string | null;
}

async function answer(res: globalThis.Response): Promise<Answer> {
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text: await res.text(),
    retryAfter: res.headers.get('retry-after'),
  };
}

/** A post whose body stops half way, as a stalled agent's would. */
function stalledPost(url: URL): Promise<Answer> {
  return new Promise((resolvePost, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '64' },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          req.destroy();
          resolvePost({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            text,
            retryAfter: null,
          });
        });
      },
    );
    req.on('error', reject);
    req.write('{"cpu": 1');
  });
}

describe('OpenAPI document against the running services', function () {
  this.timeout(60_000);
  const TOKEN = 'openapi-test-token';
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let doc: OpenApiDocument;

  before(async () => {
    // Servers of its own: the examples post as web-01 verbatim, and Redis is stopped at the end.
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    [receiver, gateway] = await Promise.all([
      receiverOn({ ...env, RECEIVER_URL: 'http://127.0.0.1:0/ingest', BODY_TIMEOUT: '1s' }),
      gatewayOn({ ...env, WEB_SERVER_URL: 'http://127.0.0.1:0/mon/', API_TOKEN: TOKEN }),
    ]);
    doc = openApiDocument('/mon/', '/ingest');
  });
  after(async () => {
    await Promise.all([receiver?.stop(), gateway?.stop()]);
    for (const server of [nats, redis]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
  });

  const op = (path: string, method: 'get' | 'post' = 'get'): Operation => {
    const found = doc.paths[path]?.[method];
    if (!found) throw new Error(`${method} ${path} is not documented`);
    return found;
  };
  const urlOf = (path: string) =>
    new URL(path, path.startsWith('/mon/') ? gateway.url : receiver.url);
  const bearer = { authorization: `Bearer ${TOKEN}` };

  /** Sends an operation with its parameters' examples (or the values given). */
  async function send(
    path: string,
    method: 'get' | 'post',
    values: Record<string, string> = {},
    init: RequestInit = {},
  ): Promise<Answer> {
    const url = urlOf(path);
    const headers: Record<string, string> = {};
    for (const p of parametersOf(doc, op(path, method))) {
      const value = values[p.name] ?? (p.example === undefined ? undefined : String(p.example));
      if (value === undefined) continue;
      if (p.in === 'query') url.searchParams.set(p.name, value);
      if (p.in === 'header') headers[p.name] = value;
      if (p.in === 'path') url.pathname = url.pathname.replace(`{${p.name}}`, value);
    }
    return answer(
      await fetch(url, {
        method: method.toUpperCase(),
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string>) },
      }),
    );
  }

  /** The answer is documented for its status: its content type, its schema, and the shape of an example. */
  function expectDocumented(where: string, path: string, method: 'get' | 'post', got: Answer) {
    const response = responseOf(doc, op(path, method), got.status);
    expect(response, `${where}: status ${got.status} (${got.text.slice(0, 200)})`).to.not.equal(
      undefined,
    );
    const mediaType = got.type.split(';')[0]!.trim();
    expect(Object.keys(response!.content ?? {}), `${where}: content type`).to.include(mediaType);
    if (mediaType !== 'application/json') return;
    const { schema, examples } = response!.content![mediaType]!;
    const body = JSON.parse(got.text) as unknown;
    expect(check(doc, schema!, body), `${where}: ${got.text.slice(0, 300)}`).to.deep.equal([]);
    const shapes = Object.values(examples ?? {}).map((e) => shapeDifferences(body, e.value));
    if (shapes.length > 0)
      expect(
        shapes.some((d) => d.length === 0),
        `${where}: like no example: ${shapes.flat().join('; ')}`,
      ).to.equal(true);
  }

  it('accepts every documented request example with 200', async () => {
    for (const path of ['/ingest', '/ingest/batch']) {
      const content = op(path, 'post').requestBody!.content['application/json']!;
      for (const [name, example] of Object.entries(content.examples ?? {})) {
        const got = await send(
          path,
          'post',
          {},
          {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(example.value),
          },
        );
        expect(got.status, `${path} example ${name}: ${got.text}`).to.equal(200);
        expectDocumented(`${path} example ${name}`, path, 'post', got);
        if (path.endsWith('batch')) expect(JSON.parse(got.text).rejected).to.deep.equal([]);
      }
    }
  });

  it('answers every documented GET with the content, schema and shape documented', async () => {
    const gets = operations(doc).filter(
      ({ path, method }) => method === 'get' && !path.includes('{'),
    );
    expect(gets).to.have.length.above(12);
    for (const { path, operation } of gets) {
      // Each value of an enumerated parameter (step=raw|1m, state=open|resolved|all) is tried.
      const variants: Record<string, string>[] = [{}];
      for (const p of parametersOf(doc, operation))
        for (const value of p.schema.enum ?? []) variants.push({ [p.name]: String(value) });
      for (const values of variants) {
        const where = `GET ${path} ${JSON.stringify(values)}`;
        const controller = new AbortController();
        const url = urlOf(path);
        for (const p of parametersOf(doc, operation))
          if (p.in === 'query' && p.example !== undefined)
            url.searchParams.set(p.name, String(p.example));
        for (const [name, value] of Object.entries(values)) url.searchParams.set(name, value);
        const res = await fetch(url, { signal: controller.signal });
        // The live stream never ends: its headers are the answer.
        const got: Answer = res.headers.get('content-type')?.startsWith('text/event-stream')
          ? {
              status: res.status,
              type: res.headers.get('content-type')!,
              text: '',
              retryAfter: null,
            }
          : await answer(res);
        controller.abort();
        expect(got.status, `${where}: ${got.text.slice(0, 200)}`).to.equal(200);
        expectDocumented(where, path, 'get', got);
      }
    }
  });

  it('serves the dashboard at the bare path to a browser, as documented', async () => {
    const got = await answer(await fetch(urlOf('/mon/'), { headers: { accept: 'text/html' } }));
    expect(got.status).to.equal(200);
    expectDocumented('GET /mon/ as a browser', '/mon/', 'get', got);
  });

  it('answers the recording POSTs as documented', async () => {
    for (const action of ['pause', 'resume', 'reset']) {
      const path = `/mon/api/v1/recording/${action}`;
      const got = await send(path, 'post', {}, { headers: bearer });
      expect(got.status, `${action}: ${got.text}`).to.equal(200);
      expectDocumented(`POST ${path}`, path, 'post', got);
    }
  });

  /** How to provoke each documented error, by "operationId status example". */
  const post = async (path: string, body: string, headers: Record<string, string> = {}) =>
    answer(
      await fetch(urlOf(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'loadstar-host': 'web-01', ...headers },
        body,
      }),
    );
  const get = async (path: string, headers: Record<string, string> = {}) =>
    answer(await fetch(urlOf(path), { headers }));
  const many = (n: number, item: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => item(i)).join(',');
  const tooLarge = `{"cpu":${'1'.repeat(300_000 - 8)}}`;

  const errorRecipes: Record<string, () => Promise<Answer>> = {
    'postSample 400 stringValue': () => post('/ingest', '{"cpu": "high"}'),
    'postSample 400 nestedObject': () => post('/ingest', '{"cpu": {"user": 1}}'),
    'postSample 400 duplicateName': () => post('/ingest', '{"cpu": 1, "cpu": 2}'),
    'postSample 400 badName': () => post('/ingest', '{"c p u": 1}'),
    'postSample 400 badHost': () => post('/ingest', '{"cpu": 1}', { 'loadstar-host': 'web 01' }),
    'postSample 400 future': () =>
      post('/ingest', '{"cpu": 1}', { 'loadstar-time': String(Date.now() + 3_600_000) }),
    'postSample 408 slowBody': () => stalledPost(urlOf('/ingest')),
    'postSample 413 tooLarge': () => post('/ingest', tooLarge),
    'postSample 413 tooManyMetrics': () =>
      post('/ingest', `{${many(1001, (i) => `"m${i}": ${i}`)}}`),
    'postSample 415 wrongType': () =>
      post('/ingest', '{"cpu": 1}', { 'content-type': 'text/plain' }),
    'postSample 415 noType': () => post('/ingest', '{"cpu": 1}', { 'content-type': '' }),
    'postSample 422 tooOld': () =>
      post('/ingest', '{"cpu": 1}', { 'loadstar-time': String(Date.now() - 2 * 86_400_000) }),
    'postBatch 400 notBatch': () => post('/ingest/batch', '{"cpu": 1}'),
    'postBatch 400 noSamples': () => post('/ingest/batch', '{"samples": []}'),
    'postBatch 408 slowBody': () => stalledPost(urlOf('/ingest/batch')),
    'postBatch 413 tooMany': () =>
      post('/ingest/batch', `{"samples": [${many(1001, () => '{"metrics": {"cpu": 1}}')}]}`),
    'postBatch 415 wrongType': () =>
      post('/ingest/batch', '{"samples": []}', { 'content-type': 'text/plain' }),
    'postBatch 415 noType': () => post('/ingest/batch', '{"samples": []}', { 'content-type': '' }),
    'getValues 400 missingTopics': () => get('/mon/'),
    'getValues 400 badTopic': () => get('/mon/?topics=c%20pu'),
    'getValues 400 badHost': () => get('/mon/?topics=cpu&host=web%2001'),
    'getLatest 400 missingTopics': () => get('/mon/api/v1/latest'),
    'listMetrics 400 badHost': () => get('/mon/api/v1/metrics?host=web%2001'),
    'getSummary 400 badHost': () => get('/mon/api/v1/summary?host=web%2001'),
    'getSummary 404 unknownHost': () => get('/mon/api/v1/summary?host=db-99'),
    'getHistory 400 missingMetric': () => get('/mon/api/v1/history?host=web-01'),
    'getHistory 400 badStep': () => get('/mon/api/v1/history?metric=cpu&step=5m'),
    'getHistory 400 backwards': () => get('/mon/api/v1/history?metric=cpu&from=2000&to=1000'),
    'getRecording 400 badHost': () => get('/mon/api/v1/recording?host=web%2001'),
    'pauseRecording 400 badHost': () =>
      post('/mon/api/v1/recording/pause?host=web%2001', '', bearer),
    'pauseRecording 401 noToken': () => post('/mon/api/v1/recording/pause', ''),
    'pauseRecording 401 wrongToken': () =>
      post('/mon/api/v1/recording/pause', '', { authorization: 'Bearer nope' }),
    'resumeRecording 400 badHost': () =>
      post('/mon/api/v1/recording/resume?host=web%2001', '', bearer),
    'resumeRecording 401 noToken': () => post('/mon/api/v1/recording/resume', ''),
    'resumeRecording 401 wrongToken': () =>
      post('/mon/api/v1/recording/resume', '', { authorization: 'Bearer nope' }),
    'resetRecording 400 badHost': () =>
      post('/mon/api/v1/recording/reset?host=web%2001&confirm=yes', '', bearer),
    'resetRecording 400 noConfirm': () =>
      post('/mon/api/v1/recording/reset?host=web-01', '', bearer),
    'resetRecording 401 noToken': () => post('/mon/api/v1/recording/reset?confirm=yes', ''),
    'resetRecording 401 wrongToken': () =>
      post('/mon/api/v1/recording/reset?confirm=yes', '', { authorization: 'Bearer nope' }),
    'listIncidents 400 badState': () => get('/mon/api/v1/incidents?state=closed'),
    'getIncident 400 badId': () => get('/mon/api/v1/incidents/INC-1'),
    'getIncident 404 unknown': () => get('/mon/api/v1/incidents/3f9c2a71b8d04e65'),
    'streamSamples 400 noHost': () => get('/mon/api/v1/stream'),
    'getDashboardFile 404 unknown': () => get('/mon/dashboard/nope.js'),
    'getDocsFile 404 unknown': () => get('/mon/docs/nope.js'),
  };
  // With Redis stopped (the last test).
  const awayRecipes: Record<string, () => Promise<Answer>> = {
    'postSample 503 redisAway': () => post('/ingest', '{"cpu": 1}'),
    'postBatch 503 redisAway': () =>
      post('/ingest/batch', '{"samples": [{"metrics": {"cpu": 1}}]}'),
    'getValues 503 redisAway': () => get('/mon/?topics=cpu'),
    'getLatest 503 redisAway': () => get('/mon/api/v1/latest?topics=cpu'),
    'listHosts 503 redisAway': () => get('/mon/api/v1/hosts'),
    'listMetrics 503 redisAway': () => get('/mon/api/v1/metrics'),
    'getSummary 503 redisAway': () => get('/mon/api/v1/summary'),
    'getHistory 503 redisAway': () => get('/mon/api/v1/history?metric=cpu'),
    'pauseRecording 503 redisAway': () =>
      post('/mon/api/v1/recording/pause?host=web-01', '', bearer),
    'resumeRecording 503 redisAway': () =>
      post('/mon/api/v1/recording/resume?host=web-01', '', bearer),
    'resetRecording 503 redisAway': () =>
      post('/mon/api/v1/recording/reset?host=web-01&confirm=yes', '', bearer),
    'listIncidents 503 redisAway': () => get('/mon/api/v1/incidents'),
    'getIncident 503 redisAway': () => get('/mon/api/v1/incidents/3f9c2a71b8d04e65'),
    'gatewayReadyz 503 redisAway': () => get('/mon/readyz'),
    'receiverReadyz 503 redisAway': () => get('/readyz'),
  };
  /** Every documented example of an error status, as "operationId status example". */
  function documentedErrors(
    away: boolean,
  ): { key: string; path: string; method: 'get' | 'post'; example: unknown }[] {
    return operations(doc).flatMap(({ path, method, operation }) =>
      Object.keys(operation.responses)
        .filter((s) => Number(s) >= 400 && (Number(s) === 503) === away)
        .flatMap((status) =>
          Object.entries(
            responseOf(doc, operation, Number(status))?.content?.['application/json']?.examples ??
              {},
          ).map(([name, example]) => ({
            key: `${operation.operationId} ${status} ${name}`,
            path,
            method,
            example: example.value,
          })),
        ),
    );
  }

  async function expectErrors(away: boolean, recipes: Record<string, () => Promise<Answer>>) {
    const documented = documentedErrors(away);
    expect(documented.map((d) => d.key)).to.have.members(Object.keys(recipes));
    for (const { key, path, method, example } of documented) {
      const got = await recipes[key]!();
      const status = Number(key.split(' ')[1]);
      expect(got.status, `${key}: ${got.text}`).to.equal(status);
      expectDocumented(key, path, method, got);
      if (responseOf(doc, op(path, method), status)?.headers?.['Retry-After'])
        expect(Number(got.retryAfter), `${key}: Retry-After`).to.be.above(0);
      const error = (example as { error?: string }).error;
      if (error !== undefined)
        expect(withoutNumbers(JSON.parse(got.text).error), key).to.equal(withoutNumbers(error));
    }
  }

  it('produces every documented error, with the documented message', async () => {
    await expectErrors(false, errorRecipes);
  });

  it('serves its document at <base>openapi.json and the receiver’s at /openapi.json', async () => {
    const fromGateway = await get('/mon/openapi.json');
    expect(fromGateway.status).to.equal(200);
    expect(fromGateway.type).to.match(/^application\/json/);
    const served = JSON.parse(fromGateway.text) as OpenApiDocument;
    expect(served.openapi).to.match(/^3\./);
    expect(served.servers.map((s) => s.url)).to.deep.equal(['/']);
    expect(served.paths).to.include.keys('/mon/api/v1/latest', '/mon/docs', '/mon/openapi.json');
    const fromReceiver = JSON.parse((await get('/openapi.json')).text) as OpenApiDocument;
    expect(fromReceiver.openapi).to.match(/^3\./);
    expect(fromReceiver.paths['/ingest']?.post?.servers?.map((s) => s.url)).to.deep.equal(['/']);
  });

  it('serves /docs as a page whose every asset is local and answers with its type', async () => {
    const page = await get('/mon/docs');
    expect(page.status).to.equal(200);
    expect(page.type).to.match(/^text\/html/);
    expect(page.text).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    const links = [...page.text.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(links).to.have.length.above(3);
    const types: Record<string, RegExp> = {
      '.css': /^text\/css/,
      '.js': /^text\/javascript/,
      '.png': /^image\/png/,
    };
    for (const link of links) {
      expect(link, 'relative, so no other host is asked').to.match(/^[\w-]+\//);
      const url = new URL(link, urlOf('/mon/docs'));
      expect(url.pathname).to.match(/^\/mon\/docs\//);
      const asset = await answer(await fetch(url));
      expect(asset.status, link).to.equal(200);
      expect(asset.type, link).to.match(types[link.slice(link.lastIndexOf('.'))]!);
    }
    const script = await get('/mon/docs/docs.js');
    expect(script.text).to.include("url: 'openapi.json'");
    const slash = await fetch(urlOf('/mon/docs/'), { redirect: 'manual' });
    expect(slash.status).to.equal(302);
    expect(new URL(slash.headers.get('location')!, urlOf('/mon/docs/')).pathname).to.equal(
      '/mon/docs',
    );
  });

  it('renders every operation in Chromium, asking nothing of any other host', async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      const elsewhere: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => {
        if (new URL(r.url()).origin !== gateway.url.origin) elsewhere.push(r.url());
      });
      await page.goto(urlOf('/mon/docs').href);
      const count = operations(doc).length;
      await eventually(async () => expect(await page.locator('.opblock').count()).to.equal(count), {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      expect(problems).to.deep.equal([]);
      expect(elsewhere).to.deep.equal([]);
    } finally {
      await browser?.close();
    }
  });

  it('answers 503 with Retry-After and the documented message when Redis is away', async () => {
    await redis.stop();
    await eventually(async () => expect((await get('/readyz')).status).to.equal(503));
    await eventually(async () => expect((await get('/mon/readyz')).status).to.equal(503));
    await expectErrors(true, awayRecipes);
  });
});
