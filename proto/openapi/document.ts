// The OpenAPI 3.1 document of every HTTP endpoint of the receiver and the
// gateway, built from the configured paths so it stays right when operators move
// WEB_SERVER_URL or RECEIVER_URL. Its examples are real: the tests send them.
import { readFileSync } from 'node:fs';
import { HOST_NAME } from '../sample.ts';
import { examples } from './examples.ts';
import { gatewayOperations } from './gateway.ts';
import type { OpenApiDocument, Operation, PathItem, Response, Server } from './oas.ts';
import { fails, json, ok, type Placed, ref } from './parts.ts';
import { prometheusOperations, prometheusSchemas, writeOperations } from './prometheus.ts';
import { receiverOperations } from './receiver.ts';
import { schemas } from './schemas.ts';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

export interface DocumentOptions {
  /** Where each service answers (origins); '/' is the origin the document was fetched from. */
  servers?: { gateway?: string[]; receiver?: string[] };
  /** The clock the examples' times are taken from, so that they pass the receiver's age checks. */
  now?: number;
}

/**
 * The document for a gateway at `base` (the path of WEB_SERVER_URL, ending in
 * '/') and a receiver taking samples at `receiverPath` (the path of RECEIVER_URL).
 */
export function openApiDocument(
  base: string,
  receiverPath: string,
  options: DocumentOptions = {},
): OpenApiDocument {
  const ex = examples(Math.floor((options.now ?? Date.now()) / 1000) * 1000);
  const gatewayServers = (options.servers?.gateway ?? ['/']).map((url) => ({
    url,
    description: 'gateway (WEB_SERVER_URL)',
  }));
  const receiverServers = (options.servers?.receiver ?? ['http://localhost:8090']).map((url) => ({
    url,
    description: 'receiver (RECEIVER_URL)',
  }));
  const placed = guarded(base, [
    ...receiverOperations(receiverPath, ex),
    ...writeOperations(ex),
    ...gatewayOperations(base, ex),
    ...prometheusOperations(base, ex),
    ...sharedOperations(base),
  ]);
  return {
    openapi: '3.1.0',
    info: {
      title: 'loadstar',
      version,
      description: [
        'The HTTP API of the loadstar pipeline: the **receiver** takes samples from agents; the',
        '**gateway** serves latest values, hosts, history, recording control, incidents, silences,',
        'the receivers of alerts and the dashboard. The gateway is the default server; receiver',
        'operations name their own.',
        '',
        'Values are written as JSON floats (`1.0`, never `1`); times are epoch milliseconds or',
        'ISO-8601 (UTC). Every error is `{"error": "..."}` naming what was wrong and where; an',
        'error 503 carries `Retry-After` and means nothing was promised: retry. The Prometheus',
        "query API answers in Prometheus' own envelope instead (`status`, `data`, `errorType`).",
        '',
        'Trying receiver operations from this page needs the receiver to be reachable from the',
        'browser; it sends no CORS headers, so use `curl` from another origin.',
      ].join('\n'),
    },
    servers: gatewayServers,
    tags: TAGS,
    paths: assemble(placed, gatewayServers, receiverServers),
    components: {
      schemas: { ...schemas(ex), ...prometheusSchemas() },
      parameters: {
        host: {
          name: 'host',
          in: 'query',
          description: 'Only this host (default: any host).',
          schema: { type: 'string', pattern: HOST_NAME.source },
          example: ex.host,
        },
        topics: {
          name: 'topics',
          in: 'query',
          required: true,
          description:
            'Metric names, comma separated (or the parameter repeated); at most MAX_TOPICS (1000).',
          schema: { type: 'string' },
          example: 'cpu,gpu',
        },
      },
      headers: {
        RetryAfter: {
          description: 'Seconds to wait before retrying.',
          required: true,
          schema: { type: 'integer', minimum: 1 },
          example: 2,
        },
      },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            "The gateway's API_TOKEN, as `Authorization: Bearer <token>`. Needed only when API_TOKEN is set; without it the endpoints are open (to holders of a read token, when READ_TOKENS is set).",
        },
        readToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            "One of the gateway's READ_TOKENS (or its API_TOKEN), as `Authorization: Bearer <token>`; an EventSource, which cannot send headers, puts it in `?token=` of the stream. Needed only when READ_TOKENS is set; without it every read is open. Open to anyone whatever the settings: health, readiness, this document, /docs and the dashboard's page and files (they hold no data).",
        },
        metricsToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            "METRICS_TOKEN, as `Authorization: Bearer <token>`. Needed by every service's /metrics only when METRICS_TOKEN is set; without it /metrics is open.",
        },
      },
    },
  };
}

const TAGS = [
  {
    name: 'samples',
    description:
      'Posting samples (receiver): loadstar JSON, Prometheus remote_write, InfluxDB line protocol.',
  },
  { name: 'values', description: 'Latest values of metrics.' },
  { name: 'hosts', description: 'The hosts seen and the metric names they report.' },
  { name: 'history', description: 'Raw points and one-minute averages, with explicit gaps.' },
  { name: 'recording', description: 'Pausing, resuming and resetting history.' },
  { name: 'incidents', description: 'Incidents opened by the rules.' },
  {
    name: 'alerts',
    description: 'Silences, and the receivers the notifier delivers incidents to.',
  },
  { name: 'dashboard', description: 'The dashboard page and its live feed.' },
  {
    name: 'prometheus',
    description:
      "Prometheus' query API and /federate, for Grafana, promtool and Prometheus servers.",
  },
  { name: 'service', description: 'Health, readiness, metrics and this documentation.' },
];

// ---- access ------------------------------------------------------------------

/** What the gateway answers to a read without a read token (READ_TOKENS set), and to /metrics without METRICS_TOKEN. */
const REFUSED = {
  read: {
    noReadToken: [
      'READ_TOKENS is set; no Authorization header',
      'reading this gateway needs a read token: Authorization: Bearer <token> (the gateway has READ_TOKENS set)',
    ],
    unknownReadToken: [
      'READ_TOKENS is set; a token that is none of them (nor API_TOKEN)',
      'the read token is not known to this gateway (revoked, or mistyped)',
    ],
  },
  metrics: {
    noMetricsToken: [
      'METRICS_TOKEN is set; no Authorization header',
      'metrics need the metrics token: Authorization: Bearer <METRICS_TOKEN>',
    ],
    wrongMetricsToken: ['METRICS_TOKEN is set; another token', 'the metrics token is wrong'],
  },
} satisfies Record<string, Record<string, [string, string]>>;

/** The endpoints both services answer (sharedOperations), by operation id, whatever its prefix. */
const SHARED_NAMES = new Map(
  ['healthz', 'readyz', 'metrics', 'openapiJson'].flatMap((name) => {
    const cap = name[0]!.toUpperCase() + name.slice(1);
    return [name, `gateway${cap}`, `receiver${cap}`].map((id) => [id, name] as const);
  }),
);

/** The gateway's operations that hold no data, open whatever READ_TOKENS says. */
const OPEN_TO_ALL = new Set(['getDashboardFile', 'getDocs', 'getDocsFile']);

/**
 * Adds who may call each operation: the read token to every gateway operation
 * that holds data (writes keep API_TOKEN's scheme), the metrics token to
 * /metrics, each with its 401. Done here, over every operation, so that a new
 * route is documented as guarded as the gateway guards it (every path but the
 * open ones).
 */
function guarded(base: string, placed: Placed[]): Placed[] {
  return placed.map((p) => {
    const id = p.operation.operationId;
    const shared = SHARED_NAMES.get(id);
    let scheme: 'read' | 'metrics' | undefined;
    if (shared === 'metrics') scheme = 'metrics';
    else if (shared === undefined && p.services.includes('gateway') && !OPEN_TO_ALL.has(id))
      scheme = 'read';
    if (!scheme || !p.path.startsWith(scheme === 'read' ? base : '/')) return p;
    const refusal = fails(
      scheme === 'read'
        ? 'READ_TOKENS is set and the request has none of them (nor API_TOKEN).'
        : 'METRICS_TOKEN is set and the request has not got it.',
      REFUSED[scheme],
    );
    const before = p.operation.responses['401'] as Response | undefined;
    const unauthorized: Response = {
      description: before
        ? `${before.description} Or: ${refusal.description}`
        : refusal.description,
      content: json(ref('Error'), {
        ...before?.content?.['application/json']?.examples,
        ...refusal.content?.['application/json']?.examples,
      }),
      headers: {
        'WWW-Authenticate': {
          schema: { type: 'string' },
          example: `Bearer realm="loadstar", scope="${scheme}"`,
        },
      },
    };
    const security = p.operation.security ?? [
      { [scheme === 'read' ? 'readToken' : 'metricsToken']: [] },
      {},
    ];
    return {
      ...p,
      operation: {
        ...p.operation,
        security,
        responses: { ...p.operation.responses, '401': unauthorized },
      },
    };
  });
}

/** Paths with their operations; an operation answered by the receiver names the receiver's servers. */
function assemble(
  placed: Placed[],
  gatewayServers: Server[],
  receiverServers: Server[],
): Record<string, PathItem> {
  const paths: Record<string, PathItem> = {};
  for (const { path, method, services, operation } of placed) {
    paths[path] ??= {};
    const item = paths[path];
    if (item[method]) {
      throw new Error(
        `${method.toUpperCase()} ${path} belongs to two endpoints: give RECEIVER_URL and WEB_SERVER_URL paths apart`,
      );
    }
    item[method] = services.includes('receiver')
      ? {
          ...operation,
          servers: [...(services.includes('gateway') ? gatewayServers : []), ...receiverServers],
        }
      : operation;
  }
  return paths;
}

// ---- on both ---------------------------------------------------------------

/** Endpoints both services answer: under the gateway's base, and at the receiver's root. */
function sharedOperations(base: string): Placed[] {
  const endpoints: {
    name: string;
    operation: (who: string) => Omit<Operation, 'operationId' | 'tags'>;
  }[] = [
    {
      name: 'healthz',
      operation: (who) => ({
        summary: `Liveness (${who})`,
        description: 'The process is up.',
        responses: {
          '200': ok('Up.', ref('Health'), { up: { value: { status: 'ok' } } }),
        },
      }),
    },
    {
      name: 'readyz',
      operation: (who) => ({
        summary: `Readiness (${who})`,
        description: 'NATS and Redis are reachable.',
        responses: {
          '200': ok('Ready.', ref('Readiness'), {
            ready: { value: { ready: true, nats: true, redis: true } },
          }),
          '503': ok('Not ready: a dependency is away.', ref('Readiness'), {
            redisAway: { value: { ready: false, nats: true, redis: false } },
          }),
        },
      }),
    },
    {
      name: 'metrics',
      operation: (who) => ({
        summary: `Prometheus metrics (${who})`,
        description:
          "The gateway's show the whole pipeline (every process publishes its counters to Redis and the gateway merges them), each labelled with its service and instance; the receiver's show its own.",
        responses: {
          '200': {
            description: 'Prometheus text format 0.0.4.',
            content: {
              'text/plain': {
                schema: { type: 'string' },
                examples: {
                  counters: {
                    value:
                      '# HELP loadstar_samples_received_total Samples posted to the receiver\n# TYPE loadstar_samples_received_total counter\nloadstar_samples_received_total{service="receiver",instance="web-01:4127"} 7200\n',
                  },
                },
              },
            },
          },
        },
      }),
    },
    {
      name: 'openapi.json',
      operation: (who) => ({
        summary: `This document (${who})`,
        description:
          "Each service builds it from its own path and takes the other's from the shared settings (RECEIVER_URL, WEB_SERVER_URL in .env and the environment).",
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      }),
    },
  ];
  // healthz, readyz, metrics, openapiJson; prefixed with the service when the two are apart.
  const id = (name: string, prefix = '') => {
    const words = name.split('.');
    return [prefix, ...words]
      .filter(Boolean)
      .map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1)))
      .join('');
  };
  const placed: Placed[] = [];
  for (const { name, operation } of endpoints) {
    const gateway = `${base}${name}`;
    const receiver = `/${name}`;
    if (gateway === receiver) {
      placed.push({
        path: gateway,
        method: 'get',
        services: ['gateway', 'receiver'],
        operation: {
          operationId: id(name),
          tags: ['service'],
          ...operation('gateway and receiver'),
        },
      });
    } else {
      placed.push(
        {
          path: gateway,
          method: 'get',
          services: ['gateway'],
          operation: {
            operationId: id(name, 'gateway'),
            tags: ['service'],
            ...operation('gateway'),
          },
        },
        {
          path: receiver,
          method: 'get',
          services: ['receiver'],
          operation: {
            operationId: id(name, 'receiver'),
            tags: ['service'],
            ...operation('receiver'),
          },
        },
      );
    }
  }
  return placed;
}
