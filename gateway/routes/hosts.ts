// The hosts seen (with last-seen time, staleness, recording state and samples
// stored) and the metric names each one reports.

import { sendJson } from '../../deploy/runtime/http.ts';
import { stringifyWithFloats } from '../../proto/float.ts';
import { ageSeconds, isStale, parseHostParam } from '../read.ts';
import { FLOAT_FIELDS, type RouteGroup } from './context.ts';

export const hostRoutes: RouteGroup = (router, { base, read, staleness, recording }) => {
  router.get(`${base}api/v1/hosts`, async (ctx) => {
    const now = Date.now();
    const hosts = await read.hosts();
    const stored = await read.storedCounts(hosts.map((h) => h.host));
    sendJson(
      ctx,
      200,
      stringifyWithFloats(
        {
          recording: recording.status(null),
          hosts: hosts.map((h, i) => ({
            host: h.host,
            last_seen: new Date(h.lastSeen).toISOString(),
            last_seen_ms: h.lastSeen,
            first_seen: new Date(h.firstSeen).toISOString(),
            age_seconds: ageSeconds(h.lastSeen, now),
            interval: h.interval,
            stale: isStale(h.lastSeen, h.interval, staleness, now),
            samples: h.samples,
            samples_stored: stored[i],
            recording: recording.status(h.host),
          })),
        },
        FLOAT_FIELDS,
      ),
    );
  });

  router.get(`${base}api/v1/metrics`, async (ctx) => {
    const host = parseHostParam(ctx.query.host);
    const hosts = host === undefined ? (await read.hosts()).map((h) => h.host) : [host];
    sendJson(ctx, 200, { host: host ?? null, metrics: await read.metricNames(hosts) });
  });
};
