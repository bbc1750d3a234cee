// Prometheus' HTTP query API under the gateway's path, so that Grafana, promtool
// and any Prometheus client given WEB_SERVER_URL read loadstar: query,
// query_range, series, labels, label values, metadata and buildinfo, each as a
// GET and as a form POST, answering in Prometheus' envelope and error types.

import { readFileSync } from 'node:fs';
import type Koa from 'koa';
import { UnavailableError } from '../../deploy/runtime/http.ts';
import { AGENT_HELP, PROM_LABEL_NAME } from '../../proto/prometheus-names.ts';
import { InputError } from '../../proto/sample.ts';
import { labelsJson, queryData, sendError, sendSuccess } from '../promql/answer.ts';
import { type Matcher, typeOf } from '../promql/ast.ts';
import { ExecutionError, earliestRead, evaluate, type QueryTiming } from '../promql/engine.ts';
import { labelValue, METRIC_NAME_LABEL } from '../promql/labels.ts';
import { PromqlError } from '../promql/lex.ts';
import {
  EARLIEST,
  type Params,
  parsePromDuration,
  parsePromTime,
  readParams,
  timeParam,
} from '../promql/params.ts';
import { parseQuery, parseSelector } from '../promql/parse.ts';
import { SeriesCatalogue, type View } from '../promql/series.ts';
import type { RouteGroup } from './context.ts';

/** Prometheus' own limit of points per series in a range answer. */
const MAX_STEPS = 11_000;
const MINUTE_MS = 60_000;

/** The Prometheus API version loadstar answers as (Debian 12's); Grafana picks its features by it. */
export const PROMETHEUS_API_VERSION = '2.42.0';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** Help text of a metric name in /federate and metadata: the agent's own, or where the series came from. */
export function helpOf(name: string): string {
  return AGENT_HELP.get(name) ?? 'A loadstar metric (see the README: Prometheus names).';
}

/** Wraps a handler: parameters in, Prometheus' envelope out, errors as Prometheus types them. */
function api(
  log: { error(message: string, fields: Record<string, unknown>): void },
  handler: (params: Params, ctx: Koa.Context) => Promise<void>,
): Koa.Middleware {
  return async (ctx) => {
    try {
      await handler(await readParams(ctx), ctx);
    } catch (err) {
      if (err instanceof InputError) {
        sendError(ctx, 'bad_data', err.message);
        if (err.status !== 400) ctx.status = err.status;
      } else if (err instanceof ExecutionError) {
        sendError(ctx, 'execution', err.message);
      } else if (err instanceof UnavailableError) {
        ctx.set('Retry-After', String(err.retryAfterSeconds));
        sendError(ctx, 'unavailable', err.message);
      } else {
        log.error('Prometheus API request failed', { path: ctx.path, error: err });
        sendError(ctx, 'internal', 'internal error; see the gateway log');
      }
    }
  };
}

/** A PromQL text as the expression it is, or a bad_data naming the parameter. */
function parseParam<T>(parse: (text: string) => T, text: string, name: string): T {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof PromqlError)
      throw new InputError(`invalid parameter "${name}": ${err.message}`);
    throw err;
  }
}

/** The match[] selectors, each a list of matchers; none when none is given. */
function matchParams(params: Params): Matcher[][] {
  return params.all('match[]').map((text) => parseParam(parseSelector, text, 'match[]'));
}

export const prometheusRoutes: RouteGroup = (router, { base, redis, read, retention, log }) => {
  const catalogue = new SeriesCatalogue(redis, read);

  /**
   * Raw samples, unless the query reads one-minute aggregates: a range query
   * whose step is a minute or more, or any query reaching back past raw
   * retention (HISTORY_RAW_RETENTION).
   */
  const viewFor = (earliest: number, timing: QueryTiming): View =>
    (!timing.instant && timing.stepMs >= MINUTE_MS) ||
    earliest < Date.now() - retention.rawRetentionMs
      ? 'minutes'
      : 'raw';

  const runQuery = async (ctx: Koa.Context, params: Params, timing: QueryTiming) => {
    const expr = parseParam(parseQuery, params.get('query'), 'query');
    const type = typeOf(expr);
    if (!timing.instant && type !== 'scalar' && type !== 'vector') {
      throw new InputError(
        `invalid expression type "${type === 'matrix' ? 'range vector' : type}" for range query, must be Scalar or instant Vector`,
      );
    }
    const view = viewFor(earliestRead(expr, timing.start), timing);
    const { result, warnings } = await evaluate(expr, timing, catalogue, view);
    sendSuccess(ctx, queryData(result), warnings);
  };

  /** The series every match[] selects (all series without any), seen at or after `start`. */
  const matchedSeries = async (params: Params) => {
    const since = timeParam(params, 'start', EARLIEST);
    timeParam(params, 'end', Date.now());
    const sets = matchParams(params);
    const selected = await Promise.all(
      (sets.length > 0 ? sets : [[]]).map((matchers) => catalogue.select(matchers, since)),
    );
    const unique = new Map(selected.flat().map((ref) => [ref.key, ref]));
    return [...unique.values()];
  };

  const routes: [string, (params: Params, ctx: Koa.Context) => Promise<void>][] = [
    [
      'api/v1/query',
      async (params, ctx) => {
        const time = timeParam(params, 'time', Date.now());
        if (params.get('timeout') !== '') parsePromDuration(params.get('timeout'), 'timeout');
        await runQuery(ctx, params, { start: time, end: time, stepMs: 1, instant: true });
      },
    ],
    [
      'api/v1/query_range',
      async (params, ctx) => {
        const start = parsePromTime(params.get('start'), 'start');
        const end = parsePromTime(params.get('end'), 'end');
        if (end < start)
          throw new InputError(
            'invalid parameter "end": end timestamp must not be before start time',
          );
        const stepMs = parsePromDuration(params.get('step'), 'step');
        if (stepMs <= 0) {
          throw new InputError(
            'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
          );
        }
        if ((end - start) / stepMs > MAX_STEPS) {
          throw new InputError(
            'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
          );
        }
        if (params.get('timeout') !== '') parsePromDuration(params.get('timeout'), 'timeout');
        await runQuery(ctx, params, { start, end, stepMs, instant: false });
      },
    ],
    [
      'api/v1/series',
      async (params, ctx) => {
        if (params.all('match[]').length === 0)
          throw new InputError('no match[] parameter provided');
        const series = await matchedSeries(params);
        sendSuccess(ctx, `[${series.map((s) => labelsJson(s.labels)).join(',')}]`);
      },
    ],
    [
      'api/v1/labels',
      async (params, ctx) => {
        const names = new Set<string>();
        for (const s of await matchedSeries(params)) for (const [name] of s.labels) names.add(name);
        sendSuccess(ctx, JSON.stringify([...names].sort()));
      },
    ],
    [
      'api/v1/label/:name/values',
      async (params, ctx) => {
        const name = ctx.params.name!;
        if (!PROM_LABEL_NAME.test(name))
          throw new InputError(`invalid label name: ${JSON.stringify(name)}`);
        const values = new Set<string>();
        for (const s of await matchedSeries(params)) {
          const value = labelValue(s.labels, name);
          if (value !== '') values.add(value);
        }
        sendSuccess(ctx, JSON.stringify([...values].sort()));
      },
    ],
    [
      'api/v1/metadata',
      async (params, ctx) => {
        const limitText = params.get('limit');
        const limit = limitText === '' ? -1 : Number(limitText);
        if (!Number.isInteger(limit)) throw new InputError('limit must be a number');
        const metric = params.get('metric');
        const names = new Set<string>();
        for (const s of await catalogue.select([]))
          names.add(labelValue(s.labels, METRIC_NAME_LABEL));
        const entries = [...names]
          .filter((name) => metric === '' || name === metric)
          .sort()
          .slice(0, limit < 0 ? undefined : limit)
          .map(
            (name) =>
              `${JSON.stringify(name)}:[${JSON.stringify({
                type: AGENT_HELP.has(name) ? 'gauge' : 'unknown',
                help: helpOf(name),
                unit: '',
              })}]`,
          );
        sendSuccess(ctx, `{${entries.join(',')}}`);
      },
    ],
    [
      'api/v1/status/buildinfo',
      async (_params, ctx) => {
        sendSuccess(
          ctx,
          JSON.stringify({
            version: PROMETHEUS_API_VERSION,
            revision: `loadstar ${version}`,
            branch: 'loadstar',
            buildUser: '',
            buildDate: '',
            goVersion: '',
          }),
        );
      },
    ],
  ];
  for (const [path, handler] of routes) {
    const middleware = api(log, handler);
    router.get(`${base}${path}`, middleware);
    router.post(`${base}${path}`, middleware);
  }
};
