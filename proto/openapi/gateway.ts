// The gateway's operations under its base path: values, hosts, history,
// recording control, incidents, the live stream, the dashboard and the docs.
import { HOST_NAME, METRIC_NAME } from '../sample.ts';
import type { Examples } from './examples.ts';
import type { Operation } from './oas.ts';
import {
  fails,
  json,
  ok,
  type Placed,
  param,
  query,
  redisAway,
  ref,
  unavailable,
} from './parts.ts';

export function gatewayOperations(base: string, ex: Examples): Placed[] {
  const get = (path: string, operation: Operation): Placed => ({
    path: `${base}${path}`,
    method: 'get',
    services: ['gateway'],
    operation,
  });
  const badHost = (where = "query parameter 'host'"): [string, string] => [
    'a bad host name',
    `${where} 'web 01' is not a host name: 1 to 253 characters of [A-Za-z0-9_.:-]`,
  ];
  const missingTopics: [string, string] = [
    'no topics',
    "query parameter 'topics' is missing or empty: name one or more metrics, as ?topics=cpu,mem",
  ];
  const recordingPost = (action: 'pause' | 'resume' | 'reset'): Placed => {
    const host = query(
      'host',
      'Only this host (default: all hosts).',
      { type: 'string', pattern: HOST_NAME.source },
      ex.host,
    );
    const after =
      action === 'pause'
        ? ex.recordingPaused
        : action === 'resume'
          ? ex.recordingOn
          : { ...ex.recordingOn, wiped_before: ex.iso(ex.t) };
    return {
      path: `${base}api/v1/recording/${action}`,
      method: 'post',
      services: ['gateway'],
      operation: {
        operationId: `${action}Recording`,
        summary: {
          pause: 'Pause history',
          resume: 'Resume history',
          reset: 'Wipe history',
        }[action],
        description: {
          pause:
            "History skips samples from now on (latest values and streams still update), so the charts show a gap. Judged by each sample's own time.",
          resume: 'History keeps samples again.',
          reset:
            'Wipes raw history and one-minute aggregates (not latest values); history keeps nothing older than the reset from then on. Needs confirm=yes.',
        }[action],
        tags: ['recording'],
        security: [{ bearer: [] }, {}],
        parameters:
          action === 'reset'
            ? [
                host,
                query(
                  'confirm',
                  'Must be yes, so that no stray request wipes history.',
                  { const: 'yes' },
                  'yes',
                  true,
                ),
              ]
            : [host],
        responses: {
          '200': ok('In force, with the state after it.', ref('RecordingChange'), {
            [action]: {
              summary: `${action} for ${ex.host}`,
              value: { action, host: ex.host, ...after },
            },
          }),
          '400': fails(
            'A bad parameter.',
            action === 'reset'
              ? {
                  badHost: badHost(),
                  noConfirm: [
                    'without confirm=yes',
                    'a reset wipes the history of web-01: add confirm=yes',
                  ],
                }
              : { badHost: badHost() },
          ),
          '401': {
            ...fails('API_TOKEN is set and the request has not got it.', {
              noToken: [
                'no Authorization header',
                'this endpoint needs the API token: Authorization: Bearer <API_TOKEN>',
              ],
              wrongToken: ['a wrong token', 'the API token is wrong'],
            }),
            headers: {
              'WWW-Authenticate': {
                schema: { type: 'string' },
                example: 'Bearer realm="loadstar"',
              },
            },
          },
          '503': unavailable({
            redisAway: [
              'Redis does not take the rules',
              "Redis did not take the recording rules (Stream isn't writeable and enableOfflineQueue options is false); retry later",
            ],
          }),
        },
      },
    };
  };

  const write = (path: string, method: 'post' | 'delete', operation: Operation): Placed => ({
    path: `${base}${path}`,
    method,
    services: ['gateway'],
    operation,
  });
  const needsToken = {
    ...fails('API_TOKEN is set and the request has not got it.', {
      noToken: [
        'no Authorization header',
        'this endpoint needs the API token: Authorization: Bearer <API_TOKEN>',
      ],
      wrongToken: ['a wrong token', 'the API token is wrong'],
    }),
    headers: {
      'WWW-Authenticate': {
        schema: { type: 'string' as const },
        example: 'Bearer realm="loadstar"',
      },
    },
  };
  const incidentId = {
    name: 'id',
    in: 'path' as const,
    required: true,
    description: 'The incident id (16 hex digits).',
    schema: { type: 'string' as const, pattern: '^[0-9a-f]{16}$' },
    example: ex.openIncident.id,
  };

  return [
    get('', {
      operationId: 'getValues',
      summary: 'Latest values (the ?topics= contract)',
      description:
        'For each requested name, the last value received from any host (or from `host`), written as a JSON float; only the requested names, in the order asked; null for a name with no value yet. A browser asking without `topics` and with `Accept: text/html` gets the dashboard page instead.',
      tags: ['values'],
      parameters: [
        {
          ...param('topics'),
          description: 'Required from JSON clients (a browser without it gets the dashboard).',
        },
        param('host'),
      ],
      responses: {
        '200': {
          description: 'The values; or, for a browser without topics, the dashboard page.',
          content: {
            ...json(ref('Values'), {
              values: { summary: 'cpu and gpu', value: { cpu: 12.5, gpu: 1 } },
              nothingYet: {
                summary: 'a name with no value yet',
                value: { cpu: 12.5, nothing: null },
              },
            }),
            'text/html': { schema: { type: 'string' } },
          },
        },
        '400': fails('topics is missing or names a bad metric, or host is bad.', {
          missingTopics,
          badTopic: ['a bad name', "topic 'c pu' has characters outside [A-Za-z0-9_.:-]"],
          badHost: badHost(),
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/latest', {
      operationId: 'getLatest',
      summary: 'Latest readings with time, host, age and staleness',
      tags: ['values'],
      parameters: [
        {
          name: 'topics',
          in: 'query',
          required: true,
          description: 'Metric names, comma separated; at most MAX_TOPICS (1000).',
          schema: { type: 'string' },
          example: 'cpu,nothing',
        },
        param('host'),
      ],
      responses: {
        '200': ok('Each requested name: its newest reading, or null.', ref('Latest'), {
          latest: {
            summary: 'cpu, and a name with no value',
            value: { cpu: ex.reading, nothing: null },
          },
        }),
        '400': fails('topics is missing or names a bad metric, or host is bad.', {
          missingTopics,
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/hosts', {
      operationId: 'listHosts',
      summary: 'The hosts seen',
      description:
        'Every host with its last-seen time, age, interval, staleness, recording state and samples stored.',
      tags: ['hosts'],
      responses: {
        '200': ok('The hosts, and the recording state for all hosts.', ref('Hosts'), {
          hosts: {
            summary: 'one host',
            value: { recording: ex.recordingOn, hosts: [ex.hostInfo] },
          },
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/summary', {
      operationId: 'getSummary',
      summary: 'The fleet at a glance (the dashboard overview)',
      description:
        'Every host (or one) with its state (live; stale past STALE_FACTOR of its intervals; offline past OFFLINE_FACTOR), its newest cpu, mem, disk and load.1, a sparkline of cpu (the average of each of the last 15 minutes, the last one still filling; null for a minute without samples), its recording state and its open incidents by severity; and the open incidents themselves, with their acknowledgements and silences. One request answers for a thousand hosts: the gateway reads them all together.',
      tags: ['hosts'],
      parameters: [
        query(
          'host',
          'Only this host (default: every host).',
          { type: 'string', pattern: HOST_NAME.source },
          ex.host,
        ),
      ],
      responses: {
        '200': ok('The hosts, sorted by name, and the open incidents.', ref('Summary'), {
          summary: { summary: 'one host with an open incident', value: ex.summary },
        }),
        '400': fails('A bad host.', { badHost: badHost() }),
        '404': fails('The host never reported (or was forgotten).', {
          unknownHost: ['an unknown host', 'no host db-99 reports'],
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/metrics', {
      operationId: 'listMetrics',
      summary: 'The metric names a host reports',
      tags: ['hosts'],
      parameters: [
        query(
          'host',
          'Only this host (default: every host).',
          { type: 'string', pattern: HOST_NAME.source },
          ex.host,
        ),
      ],
      responses: {
        '200': ok('The names, sorted.', ref('MetricNames'), {
          names: {
            summary: `the names ${ex.host} reports`,
            value: { host: ex.host, metrics: Object.keys(ex.metrics).sort() },
          },
        }),
        '400': fails('A bad host.', { badHost: badHost() }),
        '503': redisAway,
      },
    }),
    get('api/v1/history', {
      operationId: 'getHistory',
      summary: 'History of one metric of one host',
      description:
        'Raw points with explicit null gaps (`step=raw`), or every minute with its average, count, min and max (`step=1m`), computed from stored aggregates.',
      tags: ['history'],
      parameters: [
        query(
          'metric',
          'The metric.',
          { type: 'string', pattern: METRIC_NAME.source },
          'cpu',
          true,
        ),
        query(
          'host',
          'The host; may be left out when only one host reports.',
          { type: 'string', pattern: HOST_NAME.source },
          ex.host,
        ),
        query(
          'from',
          'Epoch ms or ISO-8601 (default: an hour before `to`).',
          { type: 'string' },
          ex.iso(ex.t - 3_600_000),
        ),
        query('to', 'Epoch ms or ISO-8601 (default: now).', { type: 'string' }),
        query(
          'step',
          'raw spans at most HISTORY_RAW_RETENTION plus an hour; 1m at most HISTORY_1M_RETENTION plus a day.',
          { enum: ['raw', '1m'], default: 'raw' },
          'raw',
        ),
      ],
      responses: {
        '200': ok('The points; times are epoch ms, values floats, null a gap.', ref('History'), {
          raw: { summary: 'step=raw, with a gap', value: ex.rawHistory },
          minutes: { summary: 'step=1m, with an empty minute', value: ex.minuteHistory },
        }),
        '400': fails('A bad or missing parameter, or a range too long for the step.', {
          missingMetric: [
            'no metric',
            "query parameter 'metric' is missing or empty: name one or more metrics, as ?metric=cpu,mem",
          ],
          badStep: ['an unknown step', "query parameter 'step' must be raw or 1m, not '5m'"],
          backwards: ['from after to', "query parameter 'from' must be before 'to'"],
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/recording', {
      operationId: 'getRecording',
      summary: 'Recording state of one host or all',
      tags: ['recording'],
      parameters: [
        query(
          'host',
          'This host (default: the state for all hosts).',
          { type: 'string', pattern: HOST_NAME.source },
          ex.host,
        ),
      ],
      responses: {
        '200': ok('The state.', ref('Recording'), {
          recording: { summary: 'recording', value: { host: ex.host, ...ex.recordingOn } },
          paused: { summary: 'paused', value: { host: ex.host, ...ex.recordingPaused } },
        }),
        '400': fails('A bad host.', { badHost: badHost() }),
      },
    }),
    recordingPost('pause'),
    recordingPost('resume'),
    recordingPost('reset'),
    get('api/v1/incidents', {
      operationId: 'listIncidents',
      summary: 'Incidents',
      description: 'Incidents opened by the rules, newest first.',
      tags: ['incidents'],
      parameters: [
        query(
          'state',
          'Which incidents.',
          { enum: ['open', 'resolved', 'all'], default: 'open' },
          'all',
        ),
        query('host', 'Only this host.', { type: 'string', pattern: HOST_NAME.source }, ex.host),
        query(
          'since',
          'Only incidents opened at or after this time: ISO-8601 or epoch ms.',
          { type: 'string' },
          ex.iso(ex.t - 86_400_000),
        ),
      ],
      responses: {
        '200': ok('The incidents.', ref('Incidents'), {
          incidents: {
            summary: 'one open, one resolved',
            value: { incidents: [ex.openIncident, ex.incident] },
          },
        }),
        '400': fails('A bad parameter.', {
          badState: [
            'an unknown state',
            "query parameter 'state' must be open, resolved or all, not 'closed'",
          ],
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/incidents/{id}', {
      operationId: 'getIncident',
      summary: 'One incident',
      tags: ['incidents'],
      parameters: [
        {
          name: 'id',
          in: 'path',
          required: true,
          description: 'The incident id (16 hex digits).',
          schema: { type: 'string', pattern: '^[0-9a-f]{16}$' },
          example: ex.incident.id,
        },
      ],
      responses: {
        '200': ok('The incident.', ref('Incident'), {
          resolved: { summary: 'a resolved incident', value: ex.incident },
        }),
        '400': fails('Not an incident id.', {
          badId: ['not 16 hex digits', "'INC-1' is not an incident id (16 hex digits)"],
        }),
        '404': fails('No such incident (or it has expired).', {
          unknown: ['an unknown id', `no incident ${ex.incident.id}`],
        }),
        '503': redisAway,
      },
    }),
    write('api/v1/incidents/{id}/ack', 'post', {
      operationId: 'ackIncident',
      summary: 'Acknowledge an open incident',
      description:
        'Someone is on it: the incident gets no more reminders (its resolution is still sent). The first acknowledgement stands; acknowledging again answers it.',
      tags: ['incidents'],
      security: [{ bearer: [] }, {}],
      parameters: [incidentId],
      requestBody: {
        required: false,
        content: json(ref('AcknowledgementInput'), {
          ack: { summary: 'who and why', value: { author: 'alice', comment: 'looking into it' } },
        }),
      },
      responses: {
        '200': ok('Acknowledged: the incident with its acknowledgement.', ref('Incident'), {
          acknowledged: { summary: 'acknowledged by alice', value: ex.openIncident },
        }),
        '400': fails('Not an incident id, or a bad body.', {
          badId: ['not 16 hex digits', "'INC-1' is not an incident id (16 hex digits)"],
          badField: [
            'an unknown field',
            "field 'who' is not an acknowledgement field (author, comment)",
          ],
        }),
        '401': needsToken,
        '404': fails('No such incident (or it has expired).', {
          unknown: ['an unknown id', `no incident ${ex.incident.id}`],
        }),
        '409': fails('The incident is resolved: there is nothing to be on.', {
          resolved: [
            'a resolved incident',
            'incident 5e0d4c3b2a1f0e9d is resolved already: only an open incident can be acknowledged',
          ],
        }),
        '415': fails('The body is not JSON.', {
          wrongType: ['a form', 'Content-Type text/plain is not application/json'],
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/silences', {
      operationId: 'listSilences',
      summary: 'Silences',
      description:
        'Every silence with its state now; expired ones stay listed for a week. A silence holds back every notification about the incidents it matches while it is active.',
      tags: ['alerts'],
      responses: {
        '200': ok('The silences.', ref('Silences'), {
          silences: { summary: 'one active', value: { silences: [ex.silence] } },
        }),
        '503': redisAway,
      },
    }),
    write('api/v1/silences', 'post', {
      operationId: 'createSilence',
      summary: 'Silence incidents',
      description:
        'From starts_at (default now) to ends_at, nothing is sent about incidents whose host, rule and severity match every matcher given (exact, glob or /regex/): no transition, no reminder, no Alertmanager refresh. The incidents themselves open and resolve as before.',
      tags: ['alerts'],
      security: [{ bearer: [] }, {}],
      requestBody: {
        required: true,
        content: json(ref('SilenceInput'), {
          maintenance: { summary: 'two hours of maintenance', value: ex.silenceInput },
        }),
      },
      responses: {
        '201': ok('In force (or pending, until its start).', ref('Silence'), {
          created: { summary: 'created', value: ex.silence },
        }),
        '400': fails('A bad field: the message names it.', {
          noMatchers: [
            'no matcher',
            "field 'matchers' names nothing: a silence needs host, rule or severity (it would silence everything)",
          ],
          badMatcher: ['an unknown matcher', "matcher 'hots' is not one of host, rule, severity"],
          noEnd: ['no end', "field 'ends_at' is missing: when does it end?"],
          pastEnd: ['an end in the past', "field 'ends_at' is in the past"],
          noAuthor: ['no author', "field 'author' must be text of 1 to 100 characters"],
        }),
        '401': needsToken,
        '415': fails('The body is not JSON.', {
          wrongType: ['a form', 'Content-Type text/plain is not application/json'],
        }),
        '503': redisAway,
      },
    }),
    write('api/v1/silences/{id}', 'delete', {
      operationId: 'deleteSilence',
      summary: 'Delete a silence',
      description: 'The next transition of the incidents it held is sent again.',
      tags: ['alerts'],
      security: [{ bearer: [] }, {}],
      parameters: [
        {
          name: 'id',
          in: 'path',
          required: true,
          description: 'The silence id (16 hex digits).',
          schema: { type: 'string', pattern: '^[0-9a-f]{16}$' },
          example: ex.silence.id,
        },
      ],
      responses: {
        '200': ok('Deleted: the silence as it was.', ref('Silence'), {
          deleted: { summary: 'deleted', value: ex.silence },
        }),
        '400': fails('Not a silence id.', {
          badId: ['not 16 hex digits', "'s-1' is not a silence id (16 hex digits)"],
        }),
        '401': needsToken,
        '404': fails('No such silence.', {
          unknown: ['an unknown id', `no silence ${ex.silence.id}`],
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/receivers', {
      operationId: 'listReceivers',
      summary: 'Where alerts go, and how delivery fares',
      description:
        'Each receiver the notifier runs (ALERT_WEBHOOK_URLS, ALERT_SLACK_URLS, ALERTMANAGER_URLS and the receivers of RULES_FILE), with its deliveries sent, failed, dropped and waiting, and its last error.',
      tags: ['alerts'],
      responses: {
        '200': ok('The receivers.', ref('Receivers'), {
          receivers: { summary: 'one Slack receiver', value: { receivers: [ex.receiver] } },
        }),
        '503': redisAway,
      },
    }),
    get('api/v1/stream', {
      operationId: 'streamSamples',
      summary: 'Live samples of one host (server-sent events)',
      description:
        "The dashboard's live feed: one event per sample as it enters the stream, with `recorded` saying whether history keeps it. A client that reads too slowly is disconnected (it reconnects).",
      tags: ['dashboard'],
      parameters: [
        query('host', 'The host.', { type: 'string', pattern: HOST_NAME.source }, ex.host, true),
        query(
          'metric',
          'Only these metrics, comma separated (default: all).',
          { type: 'string' },
          'cpu,mem',
        ),
      ],
      responses: {
        '200': {
          description: 'An endless event stream; `id` is the stream position.',
          content: {
            'text/event-stream': {
              schema: { type: 'string' },
              examples: {
                events: {
                  summary: 'the opening and one sample',
                  value: `retry: 2000\n: connected\n\nid: 1234\ndata: {"seq":1234,"time":${ex.t},"recorded":true,"values":{"cpu":12.5,"mem":41.3}}\n\n`,
                },
              },
            },
          },
        },
        '400': fails('No host, or a bad parameter.', {
          noHost: ['no host', "query parameter 'host' is required"],
        }),
      },
    }),
    get('dashboard/{file}', {
      operationId: 'getDashboardFile',
      summary: "The dashboard's files",
      description:
        'The page is served at the bare path to browsers; these are its scripts (JavaScript modules), styles and uPlot.',
      tags: ['dashboard'],
      parameters: [
        {
          name: 'file',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          example: 'app.js',
        },
      ],
      responses: {
        '200': {
          description: 'The file.',
          content: {
            'text/html': { schema: { type: 'string' } },
            'text/javascript': { schema: { type: 'string' } },
            'text/css': { schema: { type: 'string' } },
          },
        },
        '404': fails('No such file.', {
          unknown: ['an unknown file', 'no dashboard file "nope.js"'],
        }),
      },
    }),
    get('docs', {
      operationId: 'getDocs',
      summary: 'This documentation, interactive (Swagger UI)',
      description: 'Served from the gateway itself, with Swagger UI from node_modules: no CDN.',
      tags: ['service'],
      responses: {
        '200': {
          description: 'The page.',
          content: { 'text/html': { schema: { type: 'string' } } },
        },
      },
    }),
    get('docs/{file}', {
      operationId: 'getDocsFile',
      summary: "The documentation page's files (Swagger UI)",
      tags: ['service'],
      parameters: [
        {
          name: 'file',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          example: 'swagger-ui.css',
        },
      ],
      responses: {
        '200': {
          description: 'The file.',
          content: {
            'text/javascript': { schema: { type: 'string' } },
            'text/css': { schema: { type: 'string' } },
            'image/png': { schema: { type: 'string' } },
          },
        },
        '404': fails('No such file.', { unknown: ['an unknown file', 'no docs file "nope.js"'] }),
      },
    }),
  ];
}
