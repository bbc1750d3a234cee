// Where other agents write into loadstar, at the receiver's root:
//   POST /api/v1/write              Prometheus remote_write 1.0 (snappy protobuf)
//   POST /write, POST /api/v2/write InfluxDB line protocol (Telegraf's influxdb and influxdb_v2 outputs)
// Each goes through the JSON ingest's own path (token, room, body limits, sample
// checks, growth limits, publish and fold), so a 2xx means what it means there:
// every point is durable and readable. Points that cannot be stored are named
// in a 4xx; the rest of the request is stored all the same.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type Router from '@koa/router';
import type Koa from 'koa';
import { Counter, type Registry } from 'prom-client';
import { readBodyBytes } from '../deploy/runtime/body.ts';
import type { Log } from '../deploy/runtime/log.ts';
import { codeOfStatus } from '../proto/errors.ts';
import {
  HOST_LABEL,
  loadstarMetric,
  type PromSeries,
  UnmappableSeries,
} from '../proto/prometheus-names.ts';
import { checkHost, InputError, parseInterval, quoteName, type Sample } from '../proto/sample.ts';
import type { Grant } from './access.ts';
import type { IngestLimits } from './config.ts';
import type { Accepted, IngestCounters, Room } from './ingest.ts';
import type { Admission } from './limits.ts';
import { type LinePoint, PRECISIONS, parseLines } from './line-protocol.ts';
import { decodeWriteRequest, ProtobufError } from './remote-write.ts';
import { SnappyError, snappyDecompress } from './snappy.ts';
import { samplesOf, type WrittenPoint } from './written.ts';

/** What the JSON ingest route uses, lent to these routes so that both take the same path. */
export interface IngestPath {
  limits: IngestLimits;
  counters: IngestCounters;
  registry: Registry;
  log: Log;
  authorize(ctx: {
    get(field: string): string;
    set(field: string, value: string): void;
  }): Promise<Grant>;
  /** Room among MAX_IN_FLIGHT, held until the answer (released by `releaseRoom`). */
  room(): Room;
  releaseRoom: Koa.Middleware;
  /** Refuses a sample whose time the pipeline cannot keep (too old, ahead of the clock). */
  checkTime(sample: Sample, now: number): void;
  admit(samples: Sample[]): Promise<Admission> | Admission;
  accept(samples: Sample[], admission: Admission): Promise<Accepted[]>;
  /** The Loadstar-Host header's host, or the poster's address. */
  defaultHost(ctx: Koa.Context): string;
}

const gunzipAsync = promisify(gunzip);

interface Refusal {
  status: number;
  reason: string;
  message: string;
}

export function writeRoutes(router: Router, path: IngestPath): void {
  const skipped = new Counter({
    name: 'loadstar_written_points_skipped_total',
    help: 'Points written over remote_write or line protocol that loadstar does not store (stale markers, strings, histograms, non-finite values), by format and reason',
    labelNames: ['format', 'reason'],
    registers: [path.registry],
  });

  /** The interval a writer may declare for its hosts (Loadstar-Interval), for staleness. */
  const intervalOf = (ctx: Koa.Context): number => {
    const text = ctx.get('Loadstar-Interval');
    return text ? parseInterval(text, 'header Loadstar-Interval') : 0;
  };

  /** Checks, admits and stores; answers 204, or the refusals with the status they share (else 400). */
  const store = async (
    ctx: Koa.Context,
    grant: Grant,
    room: Room,
    samples: Sample[],
    refusals: Refusal[],
    total: number,
  ) => {
    const { limits, counters } = path;
    if (samples.length > limits.maxBatchSamples) {
      throw new InputError(
        `the request makes ${samples.length} samples (one per host and time); the limit is ${limits.maxBatchSamples} (MAX_BATCH_SAMPLES): send fewer points per request`,
        413,
        'too_large',
      );
    }
    counters.received.inc(samples.length);
    room.grow(samples.length);
    const now = Date.now();
    const checked: Sample[] = [];
    for (const sample of samples) {
      try {
        path.checkTime(sample, now);
        checked.push(sample);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        refusals.push({
          status: err.status,
          reason: err.reason,
          message: `host ${sample.host}: ${err.message}`,
        });
      }
    }
    for (const sample of checked)
      grant.check(sample.host, `a point of host ${quoteName(sample.host)}`);
    const admission = await path.admit(checked);
    const admitted: Sample[] = [];
    checked.forEach((sample, i) => {
      const refusal = admission.refused[i];
      if (refusal)
        refusals.push({ status: refusal.status, reason: refusal.reason, message: refusal.message });
      else admitted.push(sample);
    });
    if (admitted.length > 0) await path.accept(admitted, admission);
    else admission.settle(false);
    if (refusals.length === 0) {
      ctx.status = 204;
      return;
    }
    for (const r of refusals) counters.rejected.inc({ reason: r.reason });
    const status = refusals.every((r) => r.status === refusals[0]!.status)
      ? refusals[0]!.status
      : 400;
    path.log.warn('write had refused points', {
      refused: refusals.length,
      first: refusals[0]!.message,
    });
    ctx.status = status;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({
      error: `${refusals.length} of ${total} ${refusals.length === 1 ? 'was' : 'were'} refused, the rest is stored; first: ${refusals[0]!.message}`,
      code: codeOfStatus(status),
    });
  };

  router.post('/api/v1/write', path.releaseRoom, async (ctx) => {
    const grant = await path.authorize(ctx);
    const encoding = ctx.get('Content-Encoding');
    if (encoding !== 'snappy') {
      throw new InputError(
        `Content-Encoding ${encoding || '(none)'} is not snappy: remote_write 1.0 sends a snappy-compressed protobuf`,
        415,
        'content_type',
      );
    }
    if (!ctx.is('application/x-protobuf')) {
      throw new InputError(
        `Content-Type ${ctx.get('Content-Type') || '(none)'} is not application/x-protobuf`,
        415,
        'content_type',
      );
    }
    const defaultHost = path.defaultHost(ctx);
    const interval = intervalOf(ctx);
    const room = path.room();
    ctx.state.room = room;
    const { limits } = path;
    const body = await readBodyBytes(ctx, limits.maxBatchBytes, limits.bodyTimeoutMs);
    let request: ReturnType<typeof decodeWriteRequest>;
    try {
      request = decodeWriteRequest(snappyDecompress(body, limits.maxBatchBytes));
    } catch (err) {
      if (err instanceof SnappyError || err instanceof ProtobufError)
        throw new InputError(`body is not a remote_write request: ${err.message}`);
      throw err;
    }
    const refusals: Refusal[] = [];
    const points: WrittenPoint[] = [];
    let total = 0;
    for (const series of request.series) {
      total += series.samples.length + series.histograms;
      if (series.histograms > 0)
        skipped.inc({ format: 'remote_write', reason: 'histogram' }, series.histograms);
      let host: string;
      let metric: string;
      try {
        ({ host, metric } = mapSeries(series.labels, defaultHost));
      } catch (err) {
        if (!(err instanceof UnmappableSeries || err instanceof InputError)) throw err;
        refusals.push({
          status: 400,
          reason: 'invalid',
          message: `series ${describeSeries(series.labels)}: ${err.message}`,
        });
        continue;
      }
      for (const { value, timestamp, stale } of series.samples) {
        if (stale) {
          skipped.inc({ format: 'remote_write', reason: 'stale_marker' });
        } else if (!Number.isFinite(value)) {
          skipped.inc({ format: 'remote_write', reason: 'not_finite' });
        } else {
          points.push({ host, metric, time: timestamp, value });
        }
      }
    }
    const samples = samplesOf(points, limits.maxMetricsPerSample, 'rw').map((s) => ({
      ...s,
      interval,
    }));
    await store(ctx, grant, room, samples, refusals, total);
  });

  const lineProtocol =
    (version: 1 | 2): Koa.Middleware =>
    async (ctx) => {
      const grant = await path.authorize(influxCredentials(ctx));
      const precision = String(ctx.query.precision ?? 'ns');
      const allowed = version === 2 ? ['ns', 'us', 'ms', 's'] : Object.keys(PRECISIONS);
      if (!allowed.includes(precision)) {
        throw new InputError(
          `query parameter 'precision' must be one of ${allowed.join(', ')}, not ${quoteName(precision)}`,
        );
      }
      const encoding = ctx.get('Content-Encoding');
      if (encoding && encoding !== 'identity' && encoding !== 'gzip') {
        throw new InputError(
          `Content-Encoding ${encoding} is not supported; send plain or gzip`,
          415,
          'content_type',
        );
      }
      const defaultHost = path.defaultHost(ctx);
      const interval = intervalOf(ctx);
      const room = path.room();
      ctx.state.room = room;
      const { limits } = path;
      let body = await readBodyBytes(ctx, limits.maxBatchBytes, limits.bodyTimeoutMs);
      if (encoding === 'gzip') {
        try {
          body = await gunzipAsync(body, { maxOutputLength: limits.maxBatchBytes });
        } catch (err) {
          const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
          throw new InputError(
            tooLarge
              ? `gzip body unpacks to more than ${limits.maxBatchBytes} bytes (MAX_BATCH_BYTES)`
              : `gzip body cannot be read: ${(err as Error).message}`,
            tooLarge ? 413 : 400,
            tooLarge ? 'too_large' : 'invalid',
          );
        }
      }
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw new InputError('body is not valid UTF-8');
      }
      const { points: lines, errors } = parseLines(text, precision);
      if (lines.length === 0 && errors.length === 0)
        throw new InputError('body holds no line protocol points');
      const refusals: Refusal[] = errors.map((e) => ({
        status: 400,
        reason: 'invalid',
        message: e.error,
      }));
      const points: WrittenPoint[] = [];
      const now = Date.now();
      let total = errors.length;
      for (const line of lines) {
        total++;
        try {
          for (const point of linePoints(line, defaultHost, now)) {
            if (point === 'string') skipped.inc({ format: 'line_protocol', reason: 'string' });
            else points.push(point);
          }
        } catch (err) {
          if (!(err instanceof UnmappableSeries || err instanceof InputError)) throw err;
          refusals.push({
            status: 400,
            reason: 'invalid',
            message: `line ${line.line}: ${err.message}`,
          });
        }
      }
      const samples = samplesOf(points, limits.maxMetricsPerSample, 'lp').map((s) => ({
        ...s,
        interval,
      }));
      await store(ctx, grant, room, samples, refusals, total);
    };
  router.post('/write', path.releaseRoom, lineProtocol(1));
  router.post('/api/v2/write', path.releaseRoom, lineProtocol(2));
}

function describeSeries(labels: [string, string][]): string {
  const name = labels.find(([n]) => n === '__name__')?.[1] ?? '';
  const rest = labels
    .filter(([n]) => n !== '__name__')
    .map(([n, v]) => `${n}=${JSON.stringify(v)}`);
  return `${name}{${rest.join(',')}}`.slice(0, 200);
}

/**
 * A remote_write series' host and metric: the host is its `host` label, else
 * its `instance` label (which then is not part of the metric), else the
 * Loadstar-Host header or the poster's address.
 */
export function mapSeries(
  labels: [string, string][],
  defaultHost: string,
): { host: string; metric: string } {
  const byName = new Map<string, string>();
  for (const [name, value] of labels) {
    if (byName.has(name)) throw new UnmappableSeries(`label ${name} appears twice`);
    byName.set(name, value);
  }
  const name = byName.get('__name__') ?? '';
  if (name === '') throw new UnmappableSeries('it has no __name__ label');
  let host = defaultHost;
  let hostFrom: string | null = null;
  if (byName.get(HOST_LABEL)) hostFrom = HOST_LABEL;
  else if (byName.get('instance')) hostFrom = 'instance';
  if (hostFrom) host = checkHost(byName.get(hostFrom)!, `label ${hostFrom}`);
  const rest = labels.filter(([n]) => n !== '__name__' && n !== hostFrom);
  const series: PromSeries = { name, labels: rest };
  return { host, metric: loadstarMetric(series) };
}

/** Telegraf's Prometheus names: `measurement_field` (the measurement alone for a field named value). */
const promName = (text: string) => {
  const name = text.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
};
const promLabel = (text: string) => {
  const name = text.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
};

/**
 * A line's points: one per numeric field (booleans as 1 and 0; strings are
 * 'string', not stored), named as Telegraf's prometheus_client output names
 * them, tags as labels, the `host` tag as the host.
 */
export function linePoints(
  line: LinePoint,
  defaultHost: string,
  now: number,
): (WrittenPoint | 'string')[] {
  const hostTag = line.tags.find(([k]) => k === HOST_LABEL)?.[1];
  const host = hostTag === undefined ? defaultHost : checkHost(hostTag, 'tag host');
  const labels: [string, string][] = [];
  for (const [key, value] of line.tags) {
    if (key === HOST_LABEL) continue;
    const label = promLabel(key);
    if (labels.some(([k]) => k === label))
      throw new UnmappableSeries(
        `tags ${JSON.stringify(key)} and another both become label ${label}`,
      );
    labels.push([label, value]);
  }
  return line.fields.map(([field, value]): WrittenPoint | 'string' => {
    if (value.type === 'string') return 'string';
    const name = promName(field === 'value' ? line.measurement : `${line.measurement}_${field}`);
    return {
      host,
      metric: loadstarMetric({ name, labels }),
      time: line.time ?? now,
      value: value.type === 'boolean' ? (value.value ? 1 : 0) : value.value,
    };
  });
}

/**
 * InfluxDB clients send their token as `Authorization: Token <t>` (v2), as a
 * Basic password or the `p` parameter (v1): each is read as the ingest token.
 */
function influxCredentials(ctx: Koa.Context) {
  const given = ctx.get('Authorization');
  let token = '';
  const [scheme, rest] = [
    given.split(' ')[0]?.toLowerCase() ?? '',
    given.slice(given.indexOf(' ') + 1).trim(),
  ];
  if (scheme === 'bearer' || scheme === 'token') token = rest;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    token = decoded.slice(decoded.indexOf(':') + 1);
  } else if (typeof ctx.query.p === 'string') token = ctx.query.p;
  return {
    get: (field: string) =>
      field.toLowerCase() === 'authorization' ? (token ? `Bearer ${token}` : '') : ctx.get(field),
    set: (field: string, value: string) => ctx.set(field, value),
  };
}
