// Where loadstar speaks Prometheus and InfluxDB: the query API and /federate on
// the gateway (for Grafana, promtool and Prometheus), remote_write and line
// protocol on the receiver (for Prometheus and Telegraf), and their schemas.
// Error examples are the services' own messages; the tests provoke each one.
import type { Examples } from './examples.ts';
import type { Example, Operation, Parameter, Response, Schema } from './oas.ts';
import { fails, type Placed, query, ref, unavailable } from './parts.ts';

/** An error in Prometheus' envelope; each case is [summary, the gateway's own message]. */
function promFails(
  description: string,
  errorType: string,
  cases: Record<string, [string, string]>,
): Response {
  const examples: Record<string, Example> = {};
  for (const [name, [summary, error]] of Object.entries(cases))
    examples[name] = { summary, value: { status: 'error', errorType, error } };
  return { description, content: { 'application/json': { schema: ref('PromError'), examples } } };
}

const promAway: Response = {
  ...promFails('Redis is away; nothing was read. Retry after Retry-After.', 'unavailable', {
    redisAway: [
      'Redis does not answer',
      "Redis is not answering (Stream isn't writeable and enableOfflineQueue options is false); retry later",
    ],
  }),
  headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
};

function promOk(schema: string, examples: Record<string, unknown>): Response {
  const named: Record<string, Example> = {};
  for (const [name, data] of Object.entries(examples))
    named[name] = { value: { status: 'success', data } };
  return {
    description: "Prometheus' envelope: status success, the answer in data (and warnings, if any).",
    content: { 'application/json': { schema: ref(schema), examples: named } },
  };
}

const timeParam = (name: string, description: string, example?: string): Parameter =>
  query(
    name,
    `${description} Unix seconds (fractions allowed) or RFC 3339.`,
    { type: 'string' },
    example,
  );

const matchParam = (required: boolean, example: string): Parameter =>
  query(
    'match[]',
    'A series selector (repeat the parameter for several); the series matching any.',
    { type: 'string' },
    example,
    required,
  );

interface PromEndpoint {
  path: string;
  id: string;
  summary: string;
  description: string;
  parameters: Parameter[];
  responses: Record<string, Response>;
}

export function prometheusOperations(base: string, ex: Examples): Placed[] {
  const t = ex.t / 1000;
  const hostLabels = { __name__: 'load_1', host: ex.host };
  const badQuery: Record<string, [string, string]> = {
    badQuery: [
      'PromQL that does not parse',
      'invalid parameter "query": 1:9: parse error: unexpected end of input',
    ],
    unsupported: [
      'PromQL loadstar does not evaluate',
      'invalid parameter "query": 1:1: unsupported: the function "histogram_quantile" is not evaluated by loadstar (see the README\'s Grafana section for what is)',
    ],
  };
  const badMatch: [string, string] = [
    'not a series selector',
    'invalid parameter "match[]": 1:1: parse error: expected a series selector such as up{host="web-01"}',
  ];
  const execution = promFails('The query cannot be answered without guessing.', 'execution', {
    sameLabels: [
      'two series left with one label set',
      'vector cannot contain metrics with the same labelset',
    ],
  });
  const endpoints: PromEndpoint[] = [
    {
      path: 'api/v1/query',
      id: 'promQuery',
      summary: 'PromQL at one instant',
      description:
        "Prometheus' instant query: a vector, scalar, string or (for a range selector) matrix. The PromQL loadstar evaluates is listed in the README (Grafana); anything else answers bad_data.",
      parameters: [
        query('query', 'The PromQL expression.', { type: 'string' }, 'load_1', true),
        timeParam('time', 'The instant (default: now).'),
        query('timeout', 'Accepted for compatibility (a duration).', { type: 'string' }),
      ],
      responses: {
        '200': promOk('PromQueryAnswer', {
          vector: { resultType: 'vector', result: [{ metric: hostLabels, value: [t, '0.42'] }] },
          scalar: { resultType: 'scalar', result: [t, '2'] },
        }),
        '400': promFails('The query or a parameter is bad.', 'bad_data', {
          ...badQuery,
          badTime: [
            'a bad time',
            'invalid parameter "time": cannot parse "yesterday" to a valid timestamp',
          ],
        }),
        '422': execution,
        '503': promAway,
      },
    },
    {
      path: 'api/v1/query_range',
      id: 'promQueryRange',
      summary: 'PromQL at every step of a range',
      description:
        'A matrix. A step of a minute or more, or a range reaching back past HISTORY_RAW_RETENTION, reads the one-minute aggregates: each minute counts as one point valued at its average and stamped at its end.',
      parameters: [
        query(
          'query',
          'The PromQL expression.',
          { type: 'string' },
          `load_1{host="${ex.host}"}`,
          true,
        ),
        timeParam('start', 'The first step.', ex.iso(ex.t - 3_600_000)),
        timeParam('end', 'The last step at most.', ex.iso(ex.t)),
        query(
          'step',
          'Seconds (fractions allowed) or a duration (15s, 1m).',
          { type: 'string' },
          '60',
          true,
        ),
        query('timeout', 'Accepted for compatibility (a duration).', { type: 'string' }),
      ],
      responses: {
        '200': promOk('PromQueryAnswer', {
          matrix: {
            resultType: 'matrix',
            result: [
              {
                metric: hostLabels,
                values: [
                  [t - 60, '0.4'],
                  [t, '0.42'],
                ],
              },
            ],
          },
        }),
        '400': promFails('The query or a parameter is bad.', 'bad_data', {
          ...badQuery,
          zeroStep: [
            'a step of 0',
            'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
          ],
          backwards: [
            'end before start',
            'invalid parameter "end": end timestamp must not be before start time',
          ],
          tooManySteps: [
            'more than 11,000 steps',
            'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
          ],
          rangeVector: [
            'a range vector',
            'invalid expression type "range vector" for range query, must be Scalar or instant Vector',
          ],
        }),
        '422': execution,
        '503': promAway,
      },
    },
    {
      path: 'api/v1/series',
      id: 'promSeries',
      summary: 'The series matching selectors',
      description:
        'Each series as its label set; hosts last seen before `start` are left out (`end` is accepted and not used).',
      parameters: [
        matchParam(true, `{host="${ex.host}"}`),
        timeParam('start', 'Only hosts seen since.'),
        timeParam('end', 'Accepted for compatibility.'),
      ],
      responses: {
        '200': promOk('PromLabelSets', {
          series: [hostLabels, { __name__: 'cpu_core', core: '0', host: ex.host }],
        }),
        '400': promFails('No or a bad selector.', 'bad_data', {
          noMatch: ['no match[]', 'no match[] parameter provided'],
          badMatch,
        }),
        '503': promAway,
      },
    },
    {
      path: 'api/v1/labels',
      id: 'promLabels',
      summary: 'Label names',
      description: 'The label names of the series matching `match[]` (of every series without).',
      parameters: [
        matchParam(false, `{host="${ex.host}"}`),
        timeParam('start', 'Only hosts seen since.'),
        timeParam('end', 'Accepted for compatibility.'),
      ],
      responses: {
        '200': promOk('PromStrings', { names: ['__name__', 'core', 'host'] }),
        '400': promFails('A bad selector.', 'bad_data', { badMatch }),
        '503': promAway,
      },
    },
    {
      path: 'api/v1/label/{name}/values',
      id: 'promLabelValues',
      summary: "A label's values",
      description:
        'The values of one label over the series matching `match[]` (every series without); `__name__` lists the metric names.',
      parameters: [
        {
          name: 'name',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          example: '__name__',
        },
        matchParam(false, `{host="${ex.host}"}`),
        timeParam('start', 'Only hosts seen since.'),
        timeParam('end', 'Accepted for compatibility.'),
      ],
      responses: {
        '200': promOk('PromStrings', { names: ['cpu', 'cpu_core', 'load_1'] }),
        '400': promFails('Not a label name.', 'bad_data', {
          badName: ['a name with a dash', 'invalid label name: "a-b"'],
        }),
        '503': promAway,
      },
    },
    {
      path: 'api/v1/metadata',
      id: 'promMetadata',
      summary: 'What each metric name is',
      description:
        "The agent's metrics are gauges with their help text; others are of unknown type.",
      parameters: [
        query('metric', 'Only this metric name.', { type: 'string' }, 'load_1'),
        query('limit', 'At most this many names.', { type: 'string' }, '10'),
      ],
      responses: {
        '200': promOk('PromMetadata', {
          metadata: { load_1: [{ type: 'gauge', help: 'Load average over 1 minute.', unit: '' }] },
        }),
        '400': promFails('A bad limit.', 'bad_data', {
          badLimit: ['not a number', 'limit must be a number'],
        }),
        '503': promAway,
      },
    },
    {
      path: 'api/v1/status/buildinfo',
      id: 'promBuildInfo',
      summary: 'The Prometheus API version loadstar answers as',
      description:
        "version is the Prometheus release whose API loadstar speaks (2.42, Debian 12's): Grafana picks its features by it; revision names loadstar's own version.",
      parameters: [],
      responses: {
        '200': promOk('PromBuildInfo', {
          buildinfo: {
            version: '2.42.0',
            revision: 'loadstar 0.1.0',
            branch: 'loadstar',
            buildUser: '',
            buildDate: '',
            goVersion: '',
          },
        }),
      },
    },
  ];
  const placed: Placed[] = [];
  for (const e of endpoints) {
    const operation = (method: 'get' | 'post'): Operation => ({
      operationId: method === 'get' ? e.id : `${e.id}Post`,
      summary: method === 'get' ? e.summary : `${e.summary} (form POST)`,
      description:
        method === 'get'
          ? e.description
          : `${e.description} The same as GET, the parameters in a form body (Grafana's default).`,
      tags: ['prometheus'],
      parameters: method === 'get' ? e.parameters : e.parameters.filter((p) => p.in === 'path'),
      ...(method === 'post' &&
        e.parameters.some((p) => p.in === 'query') && {
          requestBody: {
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  properties: Object.fromEntries(
                    e.parameters
                      .filter((p) => p.in === 'query')
                      .map((p) => [p.name, { ...p.schema, description: p.description }]),
                  ),
                  required: e.parameters
                    .filter((p) => p.in === 'query' && p.required)
                    .map((p) => p.name),
                },
              },
            },
          },
        }),
      responses: e.responses,
    });
    placed.push(
      {
        path: `${base}${e.path}`,
        method: 'get',
        services: ['gateway'],
        operation: operation('get'),
      },
      {
        path: `${base}${e.path}`,
        method: 'post',
        services: ['gateway'],
        operation: operation('post'),
      },
    );
  }
  placed.push({
    path: `${base}federate`,
    method: 'get',
    services: ['gateway'],
    operation: {
      operationId: 'federate',
      summary: 'The latest value of every matching series, for Prometheus to scrape',
      description:
        "Prometheus' text exposition format with timestamps, as Prometheus' own /federate: scrape it with honor_labels: true. Values older than 5 minutes (stale) are left out; no match[] answers nothing.",
      tags: ['prometheus'],
      parameters: [matchParam(false, `{host="${ex.host}"}`)],
      responses: {
        '200': {
          description: 'Text format 0.0.4.',
          content: {
            'text/plain': {
              schema: { type: 'string' },
              examples: {
                load: {
                  value: `# HELP load_1 Load average over 1 minute.\n# TYPE load_1 gauge\nload_1{host="${ex.host}"} 0.42 ${ex.t}\n`,
                },
              },
            },
          },
        },
        '400': fails('A bad selector.', {
          badMatch: [
            'not a selector',
            'match[] "up{": 1:4: parse error: unexpected end of input in label matching, expected label',
          ],
        }),
        '503': unavailable({
          redisAway: [
            'Redis does not answer',
            "Redis is not answering (Stream isn't writeable and enableOfflineQueue options is false); retry later",
          ],
        }),
      },
    },
  });
  return placed;
}

// ---- the receiver: other agents' writes -------------------------------------------

const refusedAway = unavailable({
  redisAway: ['Redis is away', 'Redis is not reachable; nothing was accepted, retry later'],
});

const stored: Response = {
  description: 'Every point is durable and readable (or was stored before: a retry counts once).',
};

const hostHeaders: Parameter[] = [
  {
    name: 'Loadstar-Host',
    in: 'header',
    description: "The host of points that name none (default: the poster's address).",
    schema: { type: 'string' },
    example: 'web-01',
  },
  {
    name: 'Loadstar-Interval',
    in: 'header',
    description: "Seconds between the writer's points (its scrape interval), for staleness.",
    schema: { type: 'string', pattern: '^\\d+(\\.\\d+)?$' },
    example: '15',
  },
];

export function writeOperations(ex: Examples): Placed[] {
  const tooOld = (what: string): [string, string] => [
    `a ${what} two days old`,
    `1 of 1 was refused, the rest is stored; first: host ${ex.host}: sample time ${ex.iso(ex.t - 2 * 86_400_000)} is older than SAMPLE_MAX_AGE; the pipeline keeps nothing that old`,
  ];
  const remoteWrite: Operation = {
    operationId: 'remoteWrite',
    summary: 'Prometheus remote_write 1.0',
    description:
      'A snappy-compressed protobuf WriteRequest, as Prometheus sends it. Each series is stored under the host of its `host` label, else its `instance` label, else Loadstar-Host; its name and other labels make the metric name (README: Prometheus names). Points of one host and time make one sample. 204 when every point is stored; stale markers, NaN and histograms are left out and counted. Needs the ingest token (Bearer) when INGEST_TOKENS is set.',
    tags: ['samples'],
    parameters: hostHeaders,
    requestBody: {
      required: true,
      content: { 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } },
    },
    responses: {
      '204': stored,
      '400': fails(
        'The body is not a remote_write request, or some series cannot be stored (the others are).',
        {
          badBody: [
            'not snappy',
            'body is not a remote_write request: snappy literal runs past the end of the block',
          ],
          refusedSeries: [
            'a series with a reserved label',
            `1 of 2 was refused, the rest is stored; first: series up{host="${ex.host}",__meta_x="y"}: label name "__meta_x" is reserved`,
          ],
        },
      ),
      '413': fails(
        'More samples (hosts times timestamps) than MAX_BATCH_SAMPLES, or a body past MAX_BATCH_BYTES.',
        {
          tooMany: [
            'too many timestamps',
            'the request makes 1001 samples (one per host and time); the limit is 1000 (MAX_BATCH_SAMPLES): send fewer points per request',
          ],
        },
      ),
      '415': fails('Not snappy-compressed protobuf.', {
        notSnappy: [
          'no Content-Encoding',
          'Content-Encoding (none) is not snappy: remote_write 1.0 sends a snappy-compressed protobuf',
        ],
      }),
      '422': fails('Points older than SAMPLE_MAX_AGE (the others are stored).', {
        tooOld: tooOld('point'),
      }),
      '503': refusedAway,
    },
  };
  const lineProtocol = (version: 1 | 2): Operation => ({
    operationId: version === 1 ? 'influxWrite' : 'influxWriteV2',
    summary: `InfluxDB line protocol (${version === 1 ? "v1 API, Telegraf's outputs.influxdb" : "v2 API, Telegraf's outputs.influxdb_v2"})`,
    description:
      "Each numeric field of a line is a metric named `<measurement>_<field>` (the measurement alone for a field named `value`), as Telegraf's Prometheus output names it, with the tags as labels and the `host` tag as the host; booleans are 1 and 0, strings are left out and counted. Plain or gzip. " +
      (version === 1
        ? '`db`, `rp` and `u` are accepted and not used; the ingest token may come as the password (Basic or `p`), or Bearer.'
        : '`org` and `bucket` are accepted and not used; the ingest token comes as `Authorization: Token <token>` (or Bearer).'),
    tags: ['samples'],
    parameters: [
      query(
        'precision',
        'The unit of the timestamps (default ns).',
        {
          enum:
            version === 1
              ? ['n', 'ns', 'u', 'us', 'µ', 'ms', 's', 'm', 'h']
              : ['ns', 'us', 'ms', 's'],
        },
        's',
      ),
      ...hostHeaders,
    ],
    requestBody: {
      required: true,
      content: {
        'text/plain': {
          schema: { type: 'string' },
          examples: {
            telegraf: {
              value: `cpu,cpu=cpu0,host=${ex.host} usage_idle=97.5,usage_user=1.25 ${ex.t / 1000}\nmem,host=${ex.host} used_percent=41.3 ${ex.t / 1000}\n`,
            },
          },
        },
      },
    },
    responses: {
      '204': stored,
      '400': fails('A bad parameter, or lines that do not parse (the others are stored).', {
        badLine: [
          'a field that is not a value',
          '1 of 1 was refused, the rest is stored; first: line 1: field "temp": "warm" is not a number, boolean or string',
        ],
        badPrecision: [
          'an unknown precision',
          version === 1
            ? "query parameter 'precision' must be one of n, ns, u, us, µ, ms, s, m, h, not 'd'"
            : "query parameter 'precision' must be one of ns, us, ms, s, not 'm'",
        ],
      }),
      '415': fails('A Content-Encoding other than gzip.', {
        encoding: ['brotli', 'Content-Encoding br is not supported; send plain or gzip'],
      }),
      '422': fails('Points older than SAMPLE_MAX_AGE (the others are stored).', {
        tooOld: tooOld('line'),
      }),
      '503': refusedAway,
    },
  });
  return [
    { path: '/api/v1/write', method: 'post', services: ['receiver'], operation: remoteWrite },
    { path: '/write', method: 'post', services: ['receiver'], operation: lineProtocol(1) },
    { path: '/api/v2/write', method: 'post', services: ['receiver'], operation: lineProtocol(2) },
  ];
}

// ---- schemas -----------------------------------------------------------------

const success: Schema = { const: 'success' };
const warnings: Schema = {
  type: 'array',
  items: { type: 'string' },
  description: 'Said alongside the answer (e.g. a rate computed from one-minute averages).',
};
const labels: Schema = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description: 'A label set: __name__, host and the labels of the metric name.',
};
const point: Schema = {
  type: 'array',
  prefixItems: [
    { type: 'number', description: 'Unix seconds' },
    { type: 'string', description: 'The value, as Go writes it ("0.5", "NaN", "+Inf")' },
  ],
  minItems: 2,
  maxItems: 2,
};

export function prometheusSchemas(): Record<string, Schema> {
  const envelope = (data: Schema): Schema => ({
    type: 'object',
    required: ['status', 'data'],
    properties: { status: success, data, warnings },
  });
  return {
    PromError: {
      type: 'object',
      description:
        "Prometheus' error envelope: bad_data (400), execution (422), unavailable (503).",
      required: ['status', 'errorType', 'error'],
      properties: {
        status: { const: 'error' },
        errorType: { enum: ['bad_data', 'execution', 'unavailable', 'internal'] },
        error: { type: 'string' },
      },
    },
    PromQueryAnswer: envelope({
      oneOf: [
        {
          type: 'object',
          required: ['resultType', 'result'],
          properties: {
            resultType: { const: 'vector' },
            result: {
              type: 'array',
              items: {
                type: 'object',
                required: ['metric', 'value'],
                properties: { metric: labels, value: point },
              },
            },
          },
        },
        {
          type: 'object',
          required: ['resultType', 'result'],
          properties: {
            resultType: { const: 'matrix' },
            result: {
              type: 'array',
              items: {
                type: 'object',
                required: ['metric', 'values'],
                properties: { metric: labels, values: { type: 'array', items: point } },
              },
            },
          },
        },
        {
          type: 'object',
          required: ['resultType', 'result'],
          properties: { resultType: { enum: ['scalar', 'string'] }, result: point },
        },
      ],
    }),
    PromLabelSets: envelope({ type: 'array', items: labels }),
    PromStrings: envelope({ type: 'array', items: { type: 'string' } }),
    PromMetadata: envelope({
      type: 'object',
      additionalProperties: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'help', 'unit'],
          properties: {
            type: { enum: ['gauge', 'unknown'] },
            help: { type: 'string' },
            unit: { type: 'string' },
          },
        },
      },
    }),
    PromBuildInfo: envelope({
      type: 'object',
      required: ['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion'],
      properties: {
        version: { type: 'string' },
        revision: { type: 'string' },
        branch: { type: 'string' },
        buildUser: { type: 'string' },
        buildDate: { type: 'string' },
        goVersion: { type: 'string' },
      },
    }),
  };
}
