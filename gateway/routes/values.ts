// Latest values: docs/CONTRACT.md's answer at the bare path (`?topics=`), and the
// richer api/v1/latest with time, host, age and the stale flag.

import { sendJson } from '../../deploy/runtime/http.ts';
import { renderValues, stringifyWithFloats } from '../../proto/float.ts';
import { ageSeconds, isStale, parseHostParam, parseTopics } from '../read.ts';
import { FLOAT_FIELDS, type RouteGroup } from './context.ts';
import { serveDashboard, wantsDashboard } from './dashboard.ts';

export const valueRoutes: RouteGroup = (router, { base, read, staleness, maxTopics }) => {
  router.get(base, async (ctx) => {
    if (wantsDashboard(ctx)) {
      serveDashboard(ctx);
      return;
    }
    const topics = parseTopics(ctx.query.topics, maxTopics);
    const host = parseHostParam(ctx.query.host);
    const values = await read.latestValues(topics, host);
    sendJson(ctx, 200, renderValues(topics.map((t, i) => [t, values[i]!] as const)));
  });

  router.get(`${base}api/v1/latest`, async (ctx) => {
    const topics = parseTopics(ctx.query.topics, maxTopics);
    const host = parseHostParam(ctx.query.host);
    const readings = await read.latest(topics, host);
    const now = Date.now();
    const body: Record<string, unknown> = {};
    topics.forEach((topic, i) => {
      const r = readings[i];
      body[topic] = r
        ? {
            value: r.value,
            host: r.host,
            time: new Date(r.time).toISOString(),
            time_ms: r.time,
            age_seconds: ageSeconds(r.time, now),
            interval: r.interval,
            stale: isStale(r.time, r.interval, staleness, now),
          }
        : null;
    });
    sendJson(ctx, 200, stringifyWithFloats(body, FLOAT_FIELDS));
  });
};
