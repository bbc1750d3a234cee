// The receiver's operations: one sample, and a batch. Error examples are the
// receiver's own messages for the input their summary names.
import { HOST_NAME, SAMPLE_ID } from '../sample.ts';
import type { Examples } from './examples.ts';
import type { Operation, Parameter } from './oas.ts';
import { fails, header, json, ok, type Placed, ref, unavailable } from './parts.ts';

const spoolHeaders = (): Parameter[] => [
  header(
    'Loadstar-Spool-Depth',
    "Samples waiting in the agent's disk spool (shown in /metrics as loadstar_producer_spool_depth).",
    { type: 'string', pattern: '^\\d+$' },
    '0',
  ),
  header(
    'Loadstar-Spool-Dropped',
    'Samples the agent dropped because its spool was full (loadstar_producer_spool_dropped_total).',
    { type: 'string', pattern: '^\\d+$' },
    '0',
  ),
];

const hostHeader = (ex: Examples): Parameter =>
  header(
    'Loadstar-Host',
    "The host the sample belongs to (default: the poster's address).",
    { type: 'string', pattern: HOST_NAME.source },
    ex.host,
  );

const notJson = fails('The body is not JSON, or is not sent as plain UTF-8 JSON.', {
  wrongType: ['a content type other than JSON', 'Content-Type text/plain is not application/json'],
  noType: ['no content type', 'Content-Type is missing; send application/json'],
});

const slowBody = fails('The body did not arrive within BODY_TIMEOUT.', {
  slowBody: ['a body that stalls', 'body did not arrive within 10000 ms'],
});

const receiverAway = unavailable({
  redisAway: ['Redis is away', 'Redis is not reachable; nothing was accepted, retry later'],
});

export function receiverOperations(path: string, ex: Examples): Placed[] {
  const batch = `${path.replace(/\/+$/, '')}/batch`;
  const ingest: Operation = {
    operationId: 'postSample',
    summary: 'Post one sample',
    description:
      '200 means the sample is durable in JetStream **and** a `GET ?topics=` issued after it sees it. A retried post with the same host and Loadstar-Sample-Id counts once.',
    tags: ['samples'],
    parameters: [
      hostHeader(ex),
      header(
        'Loadstar-Time',
        "The sample's own time, epoch ms or ISO-8601 (default: now). Refused when older than SAMPLE_MAX_AGE (422) or ahead by more than MAX_CLOCK_SKEW (400).",
        { type: 'string' },
        String(ex.t),
      ),
      header(
        'Loadstar-Sample-Id',
        "The producer's id for the sample; host + id make a retried post count once.",
        { type: 'string', pattern: SAMPLE_ID.source },
        ex.sampleId,
      ),
      header(
        'Loadstar-Interval',
        "Seconds between this host's samples, for staleness (0 < s <= 86400).",
        { type: 'string', pattern: '^\\d+(\\.\\d+)?$' },
        '5',
      ),
      ...spoolHeaders(),
    ],
    requestBody: {
      required: true,
      description: 'A flat JSON object of metric name -> finite number, at most MAX_BODY_BYTES.',
      content: json(ref('Metrics'), {
        agent: { summary: 'what the agent sends', value: ex.metrics },
        perCore: { summary: 'names per core, filesystem and interface', value: ex.perCore },
      }),
    },
    responses: {
      '200': ok('Accepted: durable and readable.', ref('Accepted'), {
        accepted: {
          summary: 'a new sample',
          value: { accepted: 1, duplicate: false, seq: 1234, id: ex.sampleId },
        },
        retried: {
          summary: 'the same host and id again',
          value: { accepted: 1, duplicate: true, seq: 1234, id: ex.sampleId },
        },
      }),
      '400': fails('The body is not a flat object of finite numbers, or a header is bad.', {
        stringValue: [
          'a string value',
          "metric 'cpu' is a string ('high'): values must be numbers",
        ],
        nestedObject: [
          'a nested object',
          "metric 'cpu' is a nested object: values must be numbers",
        ],
        duplicateName: ['a name given twice', "metric 'cpu' appears twice"],
        badName: [
          'a name with a space',
          "metric name 'c p u' has characters outside [A-Za-z0-9_.:-]",
        ],
        badHost: [
          'a bad Loadstar-Host',
          "header Loadstar-Host 'web 01' is not a host name: 1 to 253 characters of [A-Za-z0-9_.:-]",
        ],
        future: [
          'a time ahead of the clock',
          `sample time ${ex.iso(ex.t + 3_600_000)} is ahead of the receiver's clock by more than MAX_CLOCK_SKEW`,
        ],
      }),
      '408': slowBody,
      '413': fails('The body or the sample is larger than the limits.', {
        tooLarge: [
          'more than MAX_BODY_BYTES',
          'body of 300000 bytes is larger than the limit of 262144 bytes',
        ],
        tooManyMetrics: [
          'more than MAX_METRICS_PER_SAMPLE names',
          'sample has more than 1000 metrics, the limit (MAX_METRICS_PER_SAMPLE)',
        ],
      }),
      '415': notJson,
      '422': fails(
        'The sample is older than SAMPLE_MAX_AGE: the pipeline keeps nothing that old.',
        {
          tooOld: [
            'a sample two days old',
            `sample time ${ex.iso(ex.t - 2 * 86_400_000)} is older than SAMPLE_MAX_AGE; the pipeline keeps nothing that old`,
          ],
        },
      ),
      '503': receiverAway,
    },
  };
  const batchOperation: Operation = {
    operationId: 'postBatch',
    summary: 'Post a batch of samples',
    description:
      'How the agent catches up after an outage. Each sample is checked on its own: the answer lists the refused ones by index, and the others are accepted as one post each would be.',
    tags: ['samples'],
    parameters: [hostHeader(ex), ...spoolHeaders()],
    requestBody: {
      required: true,
      description: 'At most MAX_BATCH_BYTES.',
      content: json(ref('Batch'), {
        catchUp: { summary: 'three spooled samples', value: ex.batch },
      }),
    },
    responses: {
      '200': ok(
        'Every sample not listed in `rejected` is durable and readable.',
        ref('BatchAccepted'),
        {
          accepted: {
            summary: 'all accepted',
            value: {
              accepted: 3,
              duplicates: 0,
              seqs: [
                [0, 1231],
                [1, 1232],
                [2, 1233],
              ],
              rejected: [],
            },
          },
          oneRefused: {
            summary: 'one sample refused',
            value: {
              accepted: 2,
              duplicates: 0,
              seqs: [
                [0, 1231],
                [2, 1232],
              ],
              rejected: [
                { index: 1, error: "metric 'cpu' is a string ('high'): values must be numbers" },
              ],
            },
          },
        },
      ),
      '400': fails('The body is not a batch.', {
        notBatch: ['not {"samples": [...]}', 'batch body must be {"samples": [...]}'],
        noSamples: ['an empty list', 'batch has no samples'],
      }),
      '408': slowBody,
      '413': fails('More than MAX_BATCH_SAMPLES samples, or more than MAX_BATCH_BYTES.', {
        tooMany: [
          'more than MAX_BATCH_SAMPLES',
          'batch has 1001 samples; the limit is 1000 (MAX_BATCH_SAMPLES)',
        ],
      }),
      '415': notJson,
      '503': receiverAway,
    },
  };
  return [
    { path, method: 'post', services: ['receiver'], operation: ingest },
    { path: batch, method: 'post', services: ['receiver'], operation: batchOperation },
  ];
}
