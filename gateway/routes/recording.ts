// Recording control over HTTP: GET api/v1/recording, and POST
// api/v1/recording/{pause,resume,reset}[?host=H] (all hosts without host=).
// The POSTs need the API token when API_TOKEN is set; a reset also needs
// confirm=yes, so that no stray request wipes history.
import { sendJson } from '../../deploy/runtime/http.ts';
import { InputError } from '../../proto/sample.ts';
import { requireToken } from '../auth.ts';
import { parseHostParam } from '../read.ts';
import type { RecordingAction } from '../recording.ts';
import type { RouteGroup } from './context.ts';

export const recordingRoutes: RouteGroup = (router, { base, recording, apiToken }) => {
  router.get(`${base}api/v1/recording`, (ctx) => {
    const host = parseHostParam(ctx.query.host);
    sendJson(ctx, 200, { host: host ?? null, ...recording.status(host ?? null) });
  });

  for (const action of ['pause', 'resume', 'reset'] as RecordingAction[]) {
    router.post(`${base}api/v1/recording/${action}`, requireToken(apiToken), async (ctx) => {
      const host = parseHostParam(ctx.query.host) ?? null;
      if (action === 'reset' && ctx.query.confirm !== 'yes') {
        throw new InputError(
          `a reset wipes ${host === null ? 'all history' : `the history of ${host}`}: add confirm=yes`,
        );
      }
      const status = await recording.apply(action, host);
      sendJson(ctx, 200, { action, host, ...status });
    });
  }
};
