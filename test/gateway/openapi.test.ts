// The OpenAPI document against the real services: it lists exactly the routes
// the gateway and receiver register, its examples pass the real validation and
// have the shape of real answers, and /docs works offline in a real browser.
import { request } from 'node:http';
import type Router from '@koa/router';
import { expect } from 'chai';
import type Koa from 'koa';
import { type Browser, chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { readGatewayConfig } from '../../gateway/config.ts';
import { createGatewayApp, type GatewayHttpDeps } from '../../gateway/http.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import { ERROR_CODES } from '../../proto/errors.ts';
import { type DocumentOptions, openApiDocument } from '../../proto/openapi.ts';
import { readReceiverConfig } from '../../receiver/config.ts';
import { createReceiverApp, HEADERS, type ReceiverDeps } from '../../receiver/http.ts';
import { encodeWriteRequest } from '../../receiver/remote-write.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { snappyCompress } from '../../receiver/snappy.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, receiverOn, redisClient } from '../harness/pipeline.ts';
import { removeDir, type ServerProcess, startNats, startRedis } from '../harness/servers.ts';

// ---- reading the document ---------------------------------------------------

/** A JSON Schema (2020-12, as OpenAPI 3.1 takes it), the keywords the document uses. */
interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  minProperties?: number;
  items?: Schema | false;
  prefixItems?: Schema[];
  minItems?: number;
  maxItems?: number;
  enum?: readonly unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  not?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
}

/** A pointer into the document; in 3.1 its description overrides the target's. */
interface Reference {
  $ref: string;
  description?: string;
}

interface MediaType {
  schema?: Schema;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

interface Parameter {
  name: string;
  in: 'query' | 'header' | 'path';
  required?: boolean;
  schema: Schema;
  example?: unknown;
}

interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}

/** The parts of an OpenAPI 3.1 operation this test reads. */
interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters?: (Parameter | Reference)[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, Response | Reference>;
  security?: Record<string, string[]>[];
  servers?: { url: string; description?: string }[];
}

interface OpenApiDocument {
  openapi: string;
  servers: { url: string; description?: string }[];
  tags: { name: string }[];
  paths: Record<string, Partial<Record<HttpMethod, Operation>>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, Schema> };
}

/** The document as proto/openapi.yaml gives it, placed for these paths. */
const documentFor = (base: string, receiverPath: string, options?: DocumentOptions) =>
  openApiDocument(base, receiverPath, options) as unknown as OpenApiDocument;

const METHODS = ['get', 'post', 'delete'] as const;
type HttpMethod = (typeof METHODS)[number];

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
      const documented = new Set(documentedRoutes(documentFor(base, receiverPath)));
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
    const apart = documentFor('/mon/', '/data', {
      servers: { gateway: ['/'], receiver: ['http://r:8090'] },
    });
    expect(apart.paths['/mon/healthz']?.get?.servers).to.equal(undefined);
    expect(apart.paths['/healthz']?.get?.servers).to.deep.equal([
      { url: 'http://r:8090', description: 'receiver (RECEIVER_URL)' },
    ]);
    const together = documentFor('/', '/data', {
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
    expect(() => documentFor('/', '/api/v1/recording/pause')).to.throw(
      'POST /api/v1/recording/pause belongs to two endpoints',
    );
  });

  it('is structurally sound: refs resolve, ids are unique, path parameters are declared', () => {
    const doc = documentFor('/mon/', '/data');
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
    const doc = documentFor('/', '/data');
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

  it("moves the file's example times to the present, on whole minutes", () => {
    const now = Date.UTC(2027, 2, 14, 9, 26, 53, 589);
    const minute = Date.UTC(2027, 2, 14, 9, 26);
    const doc = documentFor('/', '/data', { now });
    const time = parametersOf(doc, doc.paths['/data']!.post!).find(
      (p) => p.name === 'Loadstar-Time',
    );
    expect(time?.example).to.equal(String(minute));
    const text = JSON.stringify(doc);
    expect(text).to.include(new Date(minute - 600_000).toISOString());
    expect(text).not.to.include('2026-12-01T');
  });

  it('documents exactly the error codes of proto/errors.ts', () => {
    const doc = documentFor('/', '/data');
    const schema = doc.components.schemas.Error!;
    expect(schema.properties?.code?.enum).to.deep.equal([...ERROR_CODES]);
  });

  it('documents every header the receiver reads', () => {
    const doc = documentFor('/', '/data');
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
  const READ_TOKEN = 'openapi-read-token-0123456789';
  const METRICS_TOKEN = 'openapi-metrics-token-0123456789';
  let nats: ServerProcess;
  let redis: ServerProcess;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  /** Copies with READ_TOKENS and METRICS_TOKEN set, for the refusals those settings bring. */
  let guardedReceiver: RunningReceiver;
  let guardedGateway: RunningGateway;
  let doc: OpenApiDocument;

  before(async () => {
    // Servers of its own: the examples post as web-01 verbatim, and Redis is stopped at the end.
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    const guards = { READ_TOKENS: READ_TOKEN, METRICS_TOKEN };
    [receiver, gateway, guardedReceiver, guardedGateway] = await Promise.all([
      receiverOn({ ...env, RECEIVER_URL: 'http://127.0.0.1:0/ingest', BODY_TIMEOUT: '1s' }),
      gatewayOn({ ...env, WEB_SERVER_URL: 'http://127.0.0.1:0/mon/', API_TOKEN: TOKEN }),
      receiverOn({ ...env, ...guards, RECEIVER_URL: 'http://127.0.0.1:0/ingest' }),
      gatewayOn({ ...env, ...guards, WEB_SERVER_URL: 'http://127.0.0.1:0/mon/', API_TOKEN: TOKEN }),
    ]);
    doc = documentFor('/mon/', '/ingest');
  });
  after(async () => {
    await Promise.all(
      [receiver, gateway, guardedReceiver, guardedGateway].map((service) => service?.stop()),
    );
    for (const server of [nats, redis]) {
      await server?.stop();
      if (server) removeDir(server.dir);
    }
  });

  const op = (path: string, method: HttpMethod = 'get'): Operation => {
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
    method: HttpMethod,
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
      if (p.in === 'path') url.pathname = url.pathname.replace(`%7B${p.name}%7D`, value);
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
  function expectDocumented(where: string, path: string, method: HttpMethod, got: Answer) {
    const response = responseOf(doc, op(path, method), got.status);
    expect(response, `${where}: status ${got.status} (${got.text.slice(0, 200)})`).to.not.equal(
      undefined,
    );
    if (response!.content === undefined) {
      // An answer without a body (204): documented so, and sent so.
      expect(got.text, `${where}: a body where none is documented`).to.equal('');
      return;
    }
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

  it('answers every Prometheus query operation as a form POST as documented', async () => {
    const posts = operations(doc).filter(
      ({ method, operation }) => method === 'post' && operation.tags.includes('prometheus'),
    );
    expect(posts).to.have.length(7);
    for (const { path, operation } of posts) {
      const get = op(path, 'get');
      const form = new URLSearchParams();
      for (const p of parametersOf(doc, get))
        if (p.in === 'query' && p.example !== undefined) form.set(p.name, String(p.example));
      const url = urlOf(path.replace('{name}', '__name__'));
      const got = await answer(
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        }),
      );
      expect(got.status, `${operation.operationId}: ${got.text.slice(0, 200)}`).to.equal(200);
      expectDocumented(`POST ${path}`, path, 'post', got);
    }
  });

  it('stores the documented line protocol example through both InfluxDB endpoints (204)', async () => {
    for (const path of ['/write', '/api/v2/write']) {
      const body = op(path, 'post').requestBody!.content['text/plain']!.examples!.telegraf!.value;
      const got = await answer(
        await fetch(new URL(`${path}?precision=s`, receiver.url), {
          method: 'POST',
          body: String(body),
        }),
      );
      expect(got.status, `${path}: ${got.text}`).to.equal(204);
      expectDocumented(`POST ${path}`, path, 'post', got);
    }
    const series = [
      {
        labels: [
          ['__name__', 'up'],
          ['host', 'web-01'],
        ] as [string, string][],
        samples: [{ value: 1, timestamp: Date.now() }],
      },
    ];
    const got = await remoteWrite(series);
    expect(got.status, got.text).to.equal(204);
    expectDocumented('POST /api/v1/write', '/api/v1/write', 'post', got);
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

  /** An incident record in the gateway's Redis, as the rules consumer indexes it. */
  async function seedIncident(id: string, state: 'open' | 'resolved'): Promise<void> {
    const ex = doc.paths['/mon/api/v1/incidents/{id}']!.get!.responses['200'] as Response;
    const view = ex.content!['application/json']!.examples!.resolved!.value as Record<
      string,
      unknown
    >;
    const {
      opened_at: _o,
      resolved_at: _r,
      acknowledged: _a,
      silenced_by: _s,
      ...record
    } = view as Record<string, unknown>;
    const incident = {
      ...record,
      id,
      state,
      resolved_at_ms: state === 'open' ? null : record.resolved_at_ms,
      resolution: state === 'open' ? null : 'recovered',
    };
    const r = redisClient(redis.url);
    try {
      await r.hset('{loadstar}:incidents', id, JSON.stringify(incident));
      await r.zadd('{loadstar}:incidents:by-time', Number(record.opened_at_ms), id);
      if (state === 'open')
        await r.zadd('{loadstar}:incidents:open', Number(record.opened_at_ms), id);
    } finally {
      r.disconnect();
    }
  }

  it('answers the silence and acknowledgement writes as documented', async () => {
    await seedIncident('0a1b2c3d4e5f6789', 'open');
    const acked = await send(
      '/mon/api/v1/incidents/{id}/ack',
      'post',
      { id: '0a1b2c3d4e5f6789' },
      {
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ author: 'alice', comment: 'looking into it' }),
      },
    );
    expect(acked.status, acked.text).to.equal(200);
    expectDocumented('POST ack', '/mon/api/v1/incidents/{id}/ack', 'post', acked);
    expect(JSON.parse(acked.text).acknowledged).to.include({ author: 'alice' });

    const input = op('/mon/api/v1/silences', 'post').requestBody!.content['application/json']!
      .examples!.maintenance!.value;
    const created = await send(
      '/mon/api/v1/silences',
      'post',
      {},
      { headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify(input) },
    );
    expect(created.status, created.text).to.equal(201);
    expectDocumented('POST silences', '/mon/api/v1/silences', 'post', created);
    const { id } = JSON.parse(created.text) as { id: string };
    const listed = await send('/mon/api/v1/silences', 'get');
    expect(JSON.parse(listed.text).silences.map((s: { id: string }) => s.id)).to.include(id);
    const deleted = await send('/mon/api/v1/silences/{id}', 'delete', { id }, { headers: bearer });
    expect(deleted.status, deleted.text).to.equal(200);
    expectDocumented('DELETE silence', '/mon/api/v1/silences/{id}', 'delete', deleted);
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
  const remoteWrite = async (
    series: { labels: [string, string][]; samples: { value: number; timestamp: number }[] }[],
    headers: Record<string, string> = {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
    },
    body: Buffer = snappyCompress(encodeWriteRequest(series)),
  ) =>
    answer(
      await fetch(urlOf('/api/v1/write'), { method: 'POST', headers, body: new Uint8Array(body) }),
    );
  const lines = async (path: string, body: string, headers: Record<string, string> = {}) =>
    answer(await fetch(urlOf(path), { method: 'POST', headers, body }));
  /** A Prometheus API operation's recipe for GET (query string) and POST (form). */
  type Form = Record<string, string> | (() => Record<string, string>);
  /** Parameters read when the request is sent (times near now). */
  const formOf = (params: Form) =>
    new URLSearchParams(typeof params === 'function' ? params() : params);
  const prom = (path: string, params: Form) => ({
    get: () => get(`${path}?${formOf(params)}`),
    post: async () =>
      answer(
        await fetch(urlOf(path), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: formOf(params).toString(),
        }),
      ),
  });
  const hour = () => ({ start: String(Date.now() / 1000 - 3600), end: String(Date.now() / 1000) });
  /** Recipes of the Prometheus operations, by "operationId status example", for both methods. */
  const promRecipes = (away: boolean): Record<string, () => Promise<Answer>> => {
    const table: [string, string, Record<string, Form>][] = away
      ? [
          ['promQuery', '/mon/api/v1/query', { '503 redisAway': { query: 'load_1' } }],
          [
            'promQueryRange',
            '/mon/api/v1/query_range',
            { '503 redisAway': () => ({ query: 'load_1', ...hour(), step: '60' }) },
          ],
          ['promSeries', '/mon/api/v1/series', { '503 redisAway': { 'match[]': 'up' } }],
          ['promLabels', '/mon/api/v1/labels', { '503 redisAway': {} }],
          ['promLabelValues', '/mon/api/v1/label/host/values', { '503 redisAway': {} }],
          ['promMetadata', '/mon/api/v1/metadata', { '503 redisAway': {} }],
        ]
      : [
          [
            'promQuery',
            '/mon/api/v1/query',
            {
              '400 badQuery': { query: 'load_1 +' },
              '400 unsupported': { query: 'histogram_quantile(0.9, load_1)' },
              '400 badTime': { query: 'load_1', time: 'yesterday' },
              '422 sameLabels': { query: '{host="web-01"} * 2' },
            },
          ],
          [
            'promQueryRange',
            '/mon/api/v1/query_range',
            {
              '400 badQuery': () => ({ query: 'load_1 +', ...hour(), step: '60' }),
              '400 unsupported': {
                query: 'histogram_quantile(0.9, load_1)',
                ...hour(),
                step: '60',
              },
              '400 zeroStep': () => ({ query: 'load_1', ...hour(), step: '0' }),
              '400 backwards': { query: 'load_1', start: '20', end: '10', step: '1' },
              '400 tooManySteps': { query: 'load_1', start: '0', end: '100000', step: '1' },
              '400 rangeVector': () => ({ query: 'load_1[5m]', ...hour(), step: '60' }),
              '422 sameLabels': () => ({ query: '{host="web-01"} * 2', ...hour(), step: '10' }),
            },
          ],
          [
            'promSeries',
            '/mon/api/v1/series',
            { '400 noMatch': {}, '400 badMatch': { 'match[]': 'rate(up[5m])' } },
          ],
          ['promLabels', '/mon/api/v1/labels', { '400 badMatch': { 'match[]': 'rate(up[5m])' } }],
          ['promLabelValues', '/mon/api/v1/label/a-b/values', { '400 badName': {} }],
          ['promMetadata', '/mon/api/v1/metadata', { '400 badLimit': { limit: 'ten' } }],
        ];
    const recipes: Record<string, () => Promise<Answer>> = {};
    for (const [id, path, cases] of table) {
      for (const [key, params] of Object.entries(cases)) {
        const both = prom(path, params);
        // Two series of web-01 left with one label set by `* 2`: fresh samples, whatever the tests before wiped.
        const fresh = key.endsWith('sameLabels')
          ? () => post('/ingest', '{"cpu": 1, "mem": 2}')
          : async () => undefined;
        recipes[`${id} ${key}`] = async () => {
          await fresh();
          return both.get();
        };
        recipes[`${id}Post ${key}`] = async () => {
          await fresh();
          return both.post();
        };
      }
    }
    return recipes;
  };
  const twoDaysAgo = () => Date.now() - 2 * 86_400_000;
  const remove = async (path: string, headers: Record<string, string> = {}) =>
    answer(await fetch(urlOf(path), { method: 'DELETE', headers }));
  const silence = (change: Record<string, unknown>, drop?: string) => {
    const input: Record<string, unknown> = {
      matchers: { host: 'web-01' },
      ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      comment: 'maintenance',
      author: 'alice',
      ...change,
    };
    if (drop) delete input[drop];
    return post('/mon/api/v1/silences', JSON.stringify(input), bearer);
  };
  /** The id a documented error message names (seeded, so that the error occurs for real). */
  const idIn = (operationId: string, status: number, example: string): string => {
    const found = operations(doc).find((o) => o.operation.operationId === operationId)!;
    const response = responseOf(doc, found.operation, status)!;
    const text = (
      response.content!['application/json']!.examples![example]!.value as {
        error: string;
      }
    ).error;
    return /\b[0-9a-f]{16}\b/.exec(text)![0];
  };
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
    'ackIncident 400 badId': () => post('/mon/api/v1/incidents/INC-1/ack', '', bearer),
    'ackIncident 400 badField': () =>
      post('/mon/api/v1/incidents/0a1b2c3d4e5f6789/ack', '{"who": "alice"}', bearer),
    'ackIncident 401 noToken': () => post('/mon/api/v1/incidents/0a1b2c3d4e5f6789/ack', ''),
    'ackIncident 401 wrongToken': () =>
      post('/mon/api/v1/incidents/0a1b2c3d4e5f6789/ack', '', { authorization: 'Bearer nope' }),
    'ackIncident 404 unknown': () => post('/mon/api/v1/incidents/3f9c2a71b8d04e65/ack', '', bearer),
    'ackIncident 409 resolved': async () => {
      const id = idIn('ackIncident', 409, 'resolved');
      await seedIncident(id, 'resolved');
      return post(`/mon/api/v1/incidents/${id}/ack`, '', bearer);
    },
    'ackIncident 415 wrongType': () =>
      post('/mon/api/v1/incidents/0a1b2c3d4e5f6789/ack', '{}', {
        ...bearer,
        'content-type': 'text/plain',
      }),
    'createSilence 400 noMatchers': () => silence({ matchers: {} }),
    'createSilence 400 badMatcher': () => silence({ matchers: { hots: 'web-01' } }),
    'createSilence 400 noEnd': () => silence({}, 'ends_at'),
    'createSilence 400 pastEnd': () =>
      silence({ ends_at: new Date(Date.now() - 1000).toISOString() }),
    'createSilence 400 noAuthor': () => silence({}, 'author'),
    'createSilence 401 noToken': () => post('/mon/api/v1/silences', '{}'),
    'createSilence 401 wrongToken': () =>
      post('/mon/api/v1/silences', '{}', { authorization: 'Bearer nope' }),
    'createSilence 415 wrongType': () =>
      post('/mon/api/v1/silences', '{}', { ...bearer, 'content-type': 'text/plain' }),
    'deleteSilence 400 badId': () => remove('/mon/api/v1/silences/s-1', bearer),
    'deleteSilence 401 noToken': () => remove('/mon/api/v1/silences/8d2e61f0a9c4b735'),
    'deleteSilence 401 wrongToken': () =>
      remove('/mon/api/v1/silences/8d2e61f0a9c4b735', { authorization: 'Bearer nope' }),
    'deleteSilence 404 unknown': () => remove('/mon/api/v1/silences/8d2e61f0a9c4b735', bearer),
    'streamSamples 400 noHost': () => get('/mon/api/v1/stream'),
    'getDashboardFile 404 unknown': () => get('/mon/dashboard/nope.js'),
    'getDocsFile 404 unknown': () => get('/mon/docs/nope.js'),
    ...promRecipes(false),
    'federate 400 badMatch': () => get(`/mon/federate?match[]=${encodeURIComponent('up{')}`),
    'remoteWrite 400 badBody': () =>
      remoteWrite(
        [],
        { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        Buffer.from([5, 0]),
      ),
    'remoteWrite 400 refusedSeries': () =>
      remoteWrite([
        {
          labels: [
            ['__name__', 'up'],
            ['host', 'web-01'],
          ],
          samples: [{ value: 1, timestamp: Date.now() }],
        },
        {
          labels: [
            ['__name__', 'up'],
            ['host', 'web-01'],
            ['__meta_x', 'y'],
          ],
          samples: [{ value: 1, timestamp: Date.now() }],
        },
      ]),
    'remoteWrite 413 tooMany': () =>
      remoteWrite([
        {
          labels: [
            ['__name__', 'up'],
            ['host', 'web-01'],
          ],
          samples: Array.from({ length: 1001 }, (_, i) => ({
            value: i,
            timestamp: Date.now() - 60_000 + i,
          })),
        },
      ]),
    'remoteWrite 415 notSnappy': () =>
      remoteWrite([], { 'content-type': 'application/x-protobuf' }),
    'remoteWrite 422 tooOld': () =>
      remoteWrite([
        {
          labels: [
            ['__name__', 'up'],
            ['host', 'web-01'],
          ],
          samples: [{ value: 1, timestamp: twoDaysAgo() }],
        },
      ]),
    'influxWrite 400 badLine': () => lines('/write', 'weather,host=web-01 temp=warm'),
    'influxWrite 400 badPrecision': () => lines('/write?precision=d', 'weather,host=web-01 temp=1'),
    'influxWrite 415 encoding': () =>
      lines('/write', 'weather,host=web-01 temp=1', { 'content-encoding': 'br' }),
    'influxWrite 422 tooOld': () =>
      lines('/write?precision=ms', `weather,host=web-01 temp=1 ${twoDaysAgo()}`),
    'influxWriteV2 400 badLine': () => lines('/api/v2/write', 'weather,host=web-01 temp=warm'),
    'influxWriteV2 400 badPrecision': () =>
      lines('/api/v2/write?precision=m', 'weather,host=web-01 temp=1'),
    'influxWriteV2 415 encoding': () =>
      lines('/api/v2/write', 'weather,host=web-01 temp=1', { 'content-encoding': 'br' }),
    'influxWriteV2 422 tooOld': () =>
      lines('/api/v2/write?precision=ms', `weather,host=web-01 temp=1 ${twoDaysAgo()}`),
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
    'ackIncident 503 redisAway': () =>
      post('/mon/api/v1/incidents/3f9c2a71b8d04e65/ack', '', bearer),
    'listSilences 503 redisAway': () => get('/mon/api/v1/silences'),
    'createSilence 503 redisAway': () => silence({}),
    'deleteSilence 503 redisAway': () => remove('/mon/api/v1/silences/8d2e61f0a9c4b735', bearer),
    'listReceivers 503 redisAway': () => get('/mon/api/v1/receivers'),
    'gatewayReadyz 503 redisAway': () => get('/mon/readyz'),
    'receiverReadyz 503 redisAway': () => get('/readyz'),
    ...promRecipes(true),
    'federate 503 redisAway': () =>
      get(`/mon/federate?match[]=${encodeURIComponent('{host="web-01"}')}`),
    'remoteWrite 503 redisAway': () =>
      remoteWrite([
        {
          labels: [
            ['__name__', 'up'],
            ['host', 'web-01'],
          ],
          samples: [{ value: 1, timestamp: Date.now() }],
        },
      ]),
    'influxWrite 503 redisAway': () =>
      lines('/write?precision=ms', `weather,host=web-01 temp=1 ${Date.now()}`),
    'influxWriteV2 503 redisAway': () =>
      lines('/api/v2/write?precision=ms', `weather,host=web-01 temp=1 ${Date.now()}`),
  };
  /** Every documented example of an error status, as "operationId status example". */
  function documentedErrors(
    away: boolean,
  ): { key: string; path: string; method: HttpMethod; example: unknown }[] {
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

  /**
   * Every documented refusal of READ_TOKENS and METRICS_TOKEN, sent to the
   * copies that have them set: without a token, and with one that is not
   * theirs (for /metrics, a read token: it opens no /metrics).
   */
  function refusalRecipes(): Record<string, () => Promise<Answer>> {
    const headers: Record<string, Record<string, string>> = {
      noReadToken: {},
      unknownReadToken: { authorization: 'Bearer not-a-read-token-0123456789' },
      noMetricsToken: {},
      wrongMetricsToken: { authorization: `Bearer ${READ_TOKEN}` },
    };
    const recipes: Record<string, () => Promise<Answer>> = {};
    for (const { path, method, operation } of operations(doc)) {
      const examples = responseOf(doc, operation, 401)?.content?.['application/json']?.examples;
      for (const name of Object.keys(examples ?? {}).filter((n) => n in headers)) {
        const origin = path.startsWith('/mon/') ? guardedGateway.url : guardedReceiver.url;
        recipes[`${operation.operationId} 401 ${name}`] = async () =>
          answer(
            await fetch(new URL(path, origin), {
              method: method.toUpperCase(),
              headers: headers[name],
            }),
          );
      }
    }
    return recipes;
  }

  it('produces every documented error, with the documented message', async () => {
    await expectErrors(false, { ...errorRecipes, ...refusalRecipes() });
  });

  // The file says which operations need a token; this holds it to what the services guard,
  // so that a route added to the file without its refusal fails here.
  it('documents the token refusal on exactly the operations the services refuse without one', async () => {
    for (const { path, method, operation } of operations(doc)) {
      const origin = path.startsWith('/mon/') ? guardedGateway.url : guardedReceiver.url;
      const got = await fetch(new URL(path, origin), { method: method.toUpperCase() });
      await got.body?.cancel();
      const refusals = responseOf(doc, operation, 401)?.content?.['application/json']?.examples;
      const documented = ['noReadToken', 'noMetricsToken'].some((n) => n in (refusals ?? {}));
      expect(got.status === 401, `${method} ${path} answers ${got.status}`).to.equal(documented);
    }
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
