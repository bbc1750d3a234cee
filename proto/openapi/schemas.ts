// The shapes of bodies and answers (components.schemas): what the services
// really send, which the tests check against live answers.
import { HOST_NAME, METRIC_NAME, SAMPLE_ID } from '../sample.ts';
import type { Examples } from './examples.ts';
import type { Schema } from './oas.ts';
import { epochMs, isoTime, nullable, ref } from './parts.ts';

const recordingState: Record<string, Schema> = {
  recording: { type: 'boolean', description: 'Whether history keeps new samples now.' },
  paused_by: {
    enum: ['all', 'host', null],
    description: "Which pause holds it: this host's own, or the one for all hosts.",
  },
  since: { ...nullable('string'), format: 'date-time', description: 'When the pause began.' },
  wiped_before: {
    ...nullable('string'),
    format: 'date-time',
    description: 'History keeps nothing older than this (the last reset).',
  },
};
const recordingRequired = ['recording', 'paused_by', 'since', 'wiped_before'];

const historyHead: Record<string, Schema> = {
  host: { type: 'string' },
  metric: { type: 'string' },
  from: epochMs,
  to: epochMs,
  interval: { type: 'number', description: "The host's declared interval, seconds." },
};

export function schemas(ex: Examples): Record<string, Schema> {
  return {
    Error: {
      type: 'object',
      description: 'Every error answer: what was wrong and where.',
      required: ['error'],
      properties: { error: { type: 'string' } },
    },
    Metrics: {
      type: 'object',
      description:
        'One sample: a flat object of metric name -> finite number. Names may appear once; `__proto__`, `constructor` and `prototype` are refused.',
      minProperties: 1,
      propertyNames: {
        pattern: METRIC_NAME.source,
        not: { enum: ['__proto__', 'constructor', 'prototype'] },
      },
      additionalProperties: { type: 'number' },
    },
    Accepted: {
      type: 'object',
      description:
        'The sample is durable in JetStream and visible to a `GET ?topics=` issued after.',
      required: ['accepted', 'duplicate', 'seq', 'id'],
      properties: {
        accepted: { const: 1 },
        duplicate: { type: 'boolean', description: 'True when host + id was accepted before.' },
        seq: {
          ...nullable('integer'),
          description: 'Its position in the samples stream (null for a sample stored long before).',
        },
        id: { type: 'string', description: 'The sample id (the header, or one made up).' },
      },
    },
    BatchSample: {
      type: 'object',
      required: ['metrics'],
      properties: {
        host: {
          type: 'string',
          pattern: HOST_NAME.source,
          description: "Default: Loadstar-Host, or the poster's address.",
        },
        id: { type: 'string', pattern: SAMPLE_ID.source, description: 'Default: a new id.' },
        time: {
          type: ['integer', 'string'],
          description: 'Epoch ms or ISO-8601 (default: now).',
        },
        interval: {
          type: ['number', 'string'],
          description: "Seconds between this host's samples.",
        },
        metrics: ref('Metrics'),
      },
    },
    Batch: {
      type: 'object',
      required: ['samples'],
      properties: {
        samples: {
          type: 'array',
          minItems: 1,
          description: 'Up to MAX_BATCH_SAMPLES (1000), oldest first.',
          items: ref('BatchSample'),
        },
      },
    },
    BatchAccepted: {
      type: 'object',
      required: ['accepted', 'duplicates', 'seqs', 'rejected'],
      properties: {
        accepted: {
          type: 'integer',
          description: 'Samples durable and visible (duplicates included).',
        },
        duplicates: { type: 'integer' },
        seqs: {
          type: 'array',
          description: '[index in the batch, stream position] of each accepted sample.',
          items: {
            type: 'array',
            prefixItems: [{ type: 'integer' }, nullable('integer')],
            minItems: 2,
            maxItems: 2,
          },
        },
        rejected: {
          type: 'array',
          description:
            'The samples refused, by index; the others were accepted. Do not retry these.',
          items: {
            type: 'object',
            required: ['index', 'error'],
            properties: { index: { type: 'integer' }, error: { type: 'string' } },
          },
        },
      },
    },
    Values: {
      type: 'object',
      description:
        'The requested names in the order asked, each with its latest value (a float) or null when none arrived yet.',
      additionalProperties: nullable('number'),
    },
    Reading: {
      type: 'object',
      required: ['value', 'host', 'time', 'time_ms', 'age_seconds', 'interval', 'stale'],
      properties: {
        value: { type: 'number' },
        host: { type: 'string' },
        time: isoTime,
        time_ms: epochMs,
        age_seconds: { type: 'number' },
        interval: {
          type: 'number',
          description: 'Seconds, as the host declared it; 0 when unknown.',
        },
        stale: {
          type: 'boolean',
          description: 'Older than STALE_FACTOR intervals of its host: the agent may be dead.',
        },
      },
    },
    Latest: {
      type: 'object',
      description: 'Each requested name: its newest reading, or null.',
      additionalProperties: { anyOf: [ref('Reading'), { type: 'null' }] },
    },
    RecordingStatus: {
      type: 'object',
      required: recordingRequired,
      properties: recordingState,
    },
    Host: {
      type: 'object',
      required: [
        'host',
        'last_seen',
        'last_seen_ms',
        'first_seen',
        'age_seconds',
        'interval',
        'stale',
        'samples',
        'samples_stored',
        'recording',
      ],
      properties: {
        host: { type: 'string' },
        last_seen: isoTime,
        last_seen_ms: epochMs,
        first_seen: isoTime,
        age_seconds: { type: 'number' },
        interval: { type: 'number' },
        stale: { type: 'boolean' },
        samples: { type: 'integer', description: 'Samples received.' },
        samples_stored: { type: 'integer', description: 'Samples history keeps now.' },
        recording: ref('RecordingStatus'),
      },
    },
    Hosts: {
      type: 'object',
      required: ['recording', 'hosts'],
      properties: {
        recording: { ...ref('RecordingStatus'), description: 'The state for all hosts.' },
        hosts: { type: 'array', items: ref('Host') },
      },
    },
    HostSummary: {
      type: 'object',
      required: [
        'host',
        'state',
        'last_seen_ms',
        'age_seconds',
        'interval',
        'recording',
        'values',
        'sparkline',
        'open_incidents',
      ],
      properties: {
        host: { type: 'string' },
        state: {
          enum: ['live', 'stale', 'offline'],
          description:
            'stale: silent for more than STALE_FACTOR of its intervals; offline: more than OFFLINE_FACTOR.',
        },
        last_seen_ms: epochMs,
        age_seconds: { type: 'number' },
        interval: {
          type: 'number',
          description: 'Seconds, as the host declared it; 0 when unknown.',
        },
        recording: { type: 'boolean', description: 'Whether history keeps its samples now.' },
        values: {
          type: 'object',
          description: 'The newest value of each of `metrics`, null where the host never sent it.',
          additionalProperties: nullable('number'),
        },
        sparkline: {
          type: 'array',
          description:
            'The average of each minute of the sparkline (see `sparkline` at the top), rounded to two decimals; null for a minute without samples.',
          items: nullable('number'),
        },
        open_incidents: {
          type: 'array',
          description: 'Open incidents of this host by severity, most first.',
          items: {
            type: 'object',
            required: ['severity', 'count'],
            properties: { severity: { type: 'string' }, count: { type: 'integer' } },
          },
        },
      },
    },
    Summary: {
      type: 'object',
      required: [
        'time_ms',
        'raw_retention_ms',
        'minute_retention_ms',
        'gap_factor',
        'stale_factor',
        'offline_factor',
        'recording',
        'metrics',
        'sparkline',
        'hosts',
        'incidents',
      ],
      properties: {
        time_ms: { ...epochMs, description: 'When it was read: ages count from here.' },
        raw_retention_ms: {
          type: 'integer',
          description: 'HISTORY_RAW_RETENTION: how far back step=raw history reaches.',
        },
        minute_retention_ms: {
          type: 'integer',
          description: 'HISTORY_1M_RETENTION: how far back step=1m history reaches.',
        },
        gap_factor: {
          type: 'number',
          description:
            'HISTORY_GAP_FACTOR: more than this many intervals of a host without a sample is a gap.',
        },
        stale_factor: { type: 'number' },
        offline_factor: { type: 'number' },
        recording: { ...ref('RecordingStatus'), description: 'The state for all hosts.' },
        metrics: {
          type: 'array',
          items: { type: 'string' },
          description: "The names in each host's `values`.",
        },
        sparkline: {
          type: 'object',
          required: ['metric', 'from_ms', 'step_ms'],
          properties: {
            metric: { type: 'string' },
            from_ms: { ...epochMs, description: 'The start of the first minute.' },
            step_ms: { type: 'integer' },
          },
        },
        hosts: { type: 'array', items: ref('HostSummary'), description: 'Sorted by name.' },
        incidents: {
          type: 'array',
          items: ref('Incident'),
          description:
            'The open incidents (of `host` when given), newest first, each with its acknowledgement and the silences holding it, as api/v1/incidents shows them.',
        },
      },
    },
    MetricNames: {
      type: 'object',
      required: ['host', 'metrics'],
      properties: {
        host: nullable('string'),
        metrics: { type: 'array', items: { type: 'string' }, description: 'Sorted, each once.' },
      },
    },
    RawHistory: {
      type: 'object',
      required: [...Object.keys(historyHead), 'step', 'gap_after_ms', 'columns', 'points'],
      properties: {
        ...historyHead,
        step: { const: 'raw' },
        gap_after_ms: {
          type: 'integer',
          description: 'A stretch without samples longer than this is a gap.',
        },
        columns: { const: ['time', 'value'] },
        points: {
          type: 'array',
          description:
            '[time, value]; a null value is a gap, one interval after the last sample before it.',
          items: {
            type: 'array',
            prefixItems: [{ type: 'integer' }, nullable('number')],
            minItems: 2,
            maxItems: 2,
          },
        },
      },
    },
    MinuteHistory: {
      type: 'object',
      required: [...Object.keys(historyHead), 'step', 'columns', 'points'],
      properties: {
        ...historyHead,
        step: { const: '1m' },
        columns: { const: ['time', 'avg', 'count', 'min', 'max'] },
        points: {
          type: 'array',
          description:
            'Every minute of the range: [time, avg, count, min, max], or [time, null, 0, null, null] without samples.',
          items: {
            type: 'array',
            prefixItems: [
              { type: 'integer' },
              nullable('number'),
              { type: 'integer' },
              nullable('number'),
              nullable('number'),
            ],
            minItems: 5,
            maxItems: 5,
          },
        },
      },
    },
    History: {
      oneOf: [ref('RawHistory'), ref('MinuteHistory')],
      discriminator: {
        propertyName: 'step',
        mapping: {
          raw: '#/components/schemas/RawHistory',
          '1m': '#/components/schemas/MinuteHistory',
        },
      },
    },
    Recording: {
      type: 'object',
      required: ['host', ...recordingRequired],
      properties: {
        host: { ...nullable('string'), description: 'null: the state for all hosts.' },
        ...recordingState,
      },
    },
    RecordingChange: {
      type: 'object',
      required: ['action', 'host', ...recordingRequired],
      properties: {
        action: { enum: ['pause', 'resume', 'reset'] },
        host: { ...nullable('string'), description: 'null: all hosts.' },
        ...recordingState,
      },
    },
    Incident: {
      type: 'object',
      required: Object.keys(ex.incident),
      properties: {
        id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
        rule: { type: 'string', description: 'The rule that opened it.' },
        kind: {
          enum: ['threshold', 'absent'],
          description:
            "threshold: a metric's aggregate passed a threshold; absent: the host sent no sample for a number of its own intervals (host down).",
        },
        host: { type: 'string' },
        metric: { type: 'string', description: 'Empty for an absent rule.' },
        severity: { type: 'string', description: 'As the rule says (warning, critical, …).' },
        state: { enum: ['open', 'resolved'] },
        opened_at: isoTime,
        opened_at_ms: epochMs,
        resolved_at: { ...nullable('string'), format: 'date-time' },
        resolved_at_ms: nullable('integer'),
        resolution: {
          enum: ['recovered', 'host_silent', null],
          description:
            'null while open; recovered: the condition cleared (samples came back, for an absent rule); host_silent: the host went silent, and its absent incident took over.',
        },
        aggregate: {
          enum: ['avg', 'min', 'max', ''],
          description: 'Of the window, compared with the threshold; empty for an absent rule.',
        },
        op: { enum: ['>', '>=', '<', '<=', ''] },
        threshold: {
          type: 'number',
          description: 'For an absent rule: its number of intervals.',
        },
        resolve_threshold: {
          type: 'number',
          description: 'It resolves once the aggregate is past this.',
        },
        window: {
          type: 'string',
          description:
            'As the rule wrote it: "3 samples" or a duration as "5m"; for an absent rule "5 intervals of 1s".',
        },
        min: { type: 'number', description: 'Over every sample of the episode.' },
        avg: { type: 'number' },
        max: { type: 'number' },
        samples: { type: 'integer', description: 'Samples in the episode.' },
        trigger: {
          type: 'array',
          description: 'The window values that opened it: [time, value].',
          items: {
            type: 'array',
            prefixItems: [{ type: 'integer' }, { type: 'number' }],
            minItems: 2,
            maxItems: 2,
          },
        },
        acknowledged: {
          anyOf: [ref('Acknowledgement'), { type: 'null' }],
          description: 'Who is on it; an acknowledged incident gets no reminders.',
        },
        silenced_by: {
          type: 'array',
          items: { type: 'string' },
          description: 'The ids of the silences holding it now: nothing about it is sent.',
        },
      },
    },
    Acknowledgement: {
      type: 'object',
      required: ['author', 'comment', 'at', 'at_ms'],
      properties: {
        author: { type: 'string' },
        comment: { type: 'string' },
        at: isoTime,
        at_ms: epochMs,
      },
    },
    AcknowledgementInput: {
      type: 'object',
      description: 'Both optional; the body may be left out.',
      properties: {
        author: { type: 'string', description: 'Default: unknown.' },
        comment: { type: 'string' },
      },
    },
    SilenceMatchers: {
      type: 'object',
      minProperties: 1,
      description:
        'Every matcher given must match: an exact name, a glob (web-*, db-0?) or a /regular expression/.',
      properties: {
        host: { type: 'string' },
        rule: { type: 'string' },
        severity: { type: 'string' },
      },
    },
    SilenceInput: {
      type: 'object',
      required: ['matchers', 'ends_at', 'comment', 'author'],
      properties: {
        matchers: ref('SilenceMatchers'),
        starts_at: {
          type: ['string', 'integer'],
          description: 'ISO-8601 or epoch ms; default now.',
        },
        ends_at: {
          type: ['string', 'integer'],
          description: 'ISO-8601 or epoch ms; in the future.',
        },
        comment: { type: 'string', description: 'Why.' },
        author: { type: 'string', description: 'Who.' },
      },
    },
    Silence: {
      type: 'object',
      required: Object.keys(ex.silence),
      properties: {
        id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
        matchers: ref('SilenceMatchers'),
        starts_at: isoTime,
        starts_at_ms: epochMs,
        ends_at: isoTime,
        ends_at_ms: epochMs,
        comment: { type: 'string' },
        author: { type: 'string' },
        created_at: isoTime,
        created_at_ms: epochMs,
        state: {
          enum: ['pending', 'active', 'expired'],
          description: 'Now: before its start, in force, or over.',
        },
      },
    },
    Silences: {
      type: 'object',
      required: ['silences'],
      properties: {
        silences: {
          type: 'array',
          items: ref('Silence'),
          description:
            'Active first (the next to end first), then pending, then expired (kept a week).',
        },
      },
    },
    Receiver: {
      type: 'object',
      required: Object.keys(ex.receiver),
      properties: {
        name: { type: 'string' },
        type: { enum: ['webhook', 'slack', 'alertmanager'] },
        url: { type: 'string', description: 'Its origin only: paths hold secrets.' },
        from: {
          enum: ['settings', 'file'],
          description:
            'ALERT_*_URLS (named type-digest of the URL), or the receivers of RULES_FILE.',
        },
        sent: { type: 'integer', description: 'Deliveries made, over every notifier copy.' },
        failed: { type: 'integer', description: 'Attempts that failed and were retried.' },
        dropped: {
          type: 'integer',
          description:
            'Deliveries given up: refused for good (4xx) or older than ALERT_GIVE_UP_AFTER.',
        },
        pending: { type: 'integer', description: 'Deliveries waiting in its queue.' },
        last_error: nullable('string'),
        last_error_at: { ...nullable('string'), format: 'date-time' },
        last_sent_at: { ...nullable('string'), format: 'date-time' },
      },
    },
    Receivers: {
      type: 'object',
      required: ['receivers'],
      properties: {
        receivers: {
          type: 'array',
          items: ref('Receiver'),
          description: 'As the notifier registered them (empty while no notifier ran).',
        },
      },
    },
    Incidents: {
      type: 'object',
      required: ['incidents'],
      properties: {
        incidents: { type: 'array', items: ref('Incident'), description: 'Newest first.' },
      },
    },
    Health: {
      type: 'object',
      required: ['status'],
      properties: { status: { const: 'ok' } },
    },
    Readiness: {
      type: 'object',
      required: ['ready', 'nats', 'redis'],
      properties: {
        ready: { type: 'boolean' },
        nats: { type: 'boolean' },
        redis: { type: 'boolean' },
      },
    },
  };
}
