// GET api/v1/history?metric=&host=&from=&to=&step=raw|1m: points with explicit
// null gaps; one-minute points carry their average, count, min and max.

import { renderFloat } from '../../proto/float.ts';
import { keys } from '../../proto/keys.ts';
import { InputError } from '../../proto/sample.ts';
import {
  parseRange,
  readMinuteColumns,
  readRawColumns,
  writeMinutes,
  writeRawPoints,
} from '../history.ts';
import { JsonText } from '../json-text.ts';
import { parseHostParam, parseTopics, unavailable } from '../read.ts';
import type { RouteGroup } from './context.ts';

export const historyRoutes: RouteGroup = (
  router,
  { base, redis, read, history, staleness, retention },
) => {
  router.get(`${base}api/v1/history`, async (ctx) => {
    const [metric] = parseTopics(ctx.query.metric, 1, 'metric');
    const range = parseRange(ctx.query, history);
    let host = parseHostParam(ctx.query.host);
    if (host === undefined) {
      const hosts = await read.hosts();
      if (hosts.length !== 1) {
        throw new InputError(
          hosts.length === 0
            ? 'no host reports yet'
            : `query parameter 'host' is required: ${hosts.length} hosts report`,
        );
      }
      host = hosts[0]!.host;
    }
    const declared = Number(
      (await redis.hget(keys.hostMeta(host), 'interval').catch(unavailable)) ?? 0,
    );
    const interval = declared > 0 ? declared : staleness.defaultIntervalSeconds;
    const out = new JsonText().text(
      `{"host":${JSON.stringify(host)},"metric":${JSON.stringify(metric)},"step":"${range.step}",` +
        `"from":${range.from},"to":${range.to},"interval":${renderFloat(interval)}`,
    );
    if (range.step === 'raw') {
      const gapMs = history.gapFactor * interval * 1000;
      const points = await readRawColumns(
        redis,
        host,
        metric!,
        range.from,
        range.to,
        Date.now() - retention.rawRetentionMs,
      );
      out.text(`,"gap_after_ms":${Math.round(gapMs)},"columns":["time","value"],"points":`);
      writeRawPoints(out, points, { intervalMs: interval * 1000, gapMs, ...range });
    } else {
      const series = await readMinuteColumns(redis, host, metric!, range.from, range.to);
      out.text(',"columns":["time","avg","count","min","max"],"points":');
      writeMinutes(out, series, range.from, range.to);
    }
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = out.text('}').bytes();
  });
};
