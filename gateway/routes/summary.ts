// GET api/v1/summary[?host=]: the fleet overview's one request per refresh,
// every host's state, newest figures, cpu sparkline and open incidents (with
// their acknowledgements and silences).
import { InputError } from '../../proto/sample.ts';
import { parseHostParam } from '../read.ts';
import { readSummary, writeSummary } from '../summary.ts';
import type { RouteGroup } from './context.ts';

export const summaryRoutes: RouteGroup = (
  router,
  { base, redis, read, incidents, acks, silences, staleness, retention, history, recording },
) => {
  router.get(`${base}api/v1/summary`, async (ctx) => {
    const host = parseHostParam(ctx.query.host);
    const summary = await readSummary(
      {
        redis,
        read,
        incidents,
        acks,
        silences,
        staleness,
        rawRetentionMs: retention.rawRetentionMs,
        recording: (h) => recording.status(h),
      },
      host,
    );
    if (host !== undefined && summary.hosts.length === 0)
      throw new InputError(`no host ${host} reports`, 404, 'not_found');
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = writeSummary(summary, {
      staleness,
      rawRetentionMs: retention.rawRetentionMs,
      minuteRetentionMs: retention.minuteRetentionMs,
      gapFactor: history.gapFactor,
      recording: recording.status(null),
    });
  });
};
