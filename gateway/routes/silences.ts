// Silences over HTTP: GET api/v1/silences, POST api/v1/silences, DELETE
// api/v1/silences/{id}. A silence holds back every notification about the
// incidents it matches while it is active (the notifier asks at each
// transition). The writes need the API token when API_TOKEN is set.
import { sendJson } from '../../deploy/runtime/http.ts';
import { InputError } from '../../proto/sample.ts';
import { parseSilence, SILENCE_ID, silenceState, silenceView } from '../../proto/silence.ts';
import { requireToken } from '../auth.ts';
import { readJsonBody } from '../body.ts';
import { unavailable } from '../read.ts';
import type { RouteGroup } from './context.ts';

const ORDER = { active: 0, pending: 1, expired: 2 };

export const silenceRoutes: RouteGroup = (router, { base, silences, apiToken, log }) => {
  router.get(`${base}api/v1/silences`, async (ctx) => {
    const now = Date.now();
    await silences.prune(now).catch(unavailable);
    const list = (await silences.list().catch(unavailable)).sort(
      (a, b) =>
        ORDER[silenceState(a, now)] - ORDER[silenceState(b, now)] || a.ends_at_ms - b.ends_at_ms,
    );
    sendJson(ctx, 200, { silences: list.map((s) => silenceView(s, now)) });
  });

  router.post(`${base}api/v1/silences`, requireToken(apiToken), async (ctx) => {
    const now = Date.now();
    const input = parseSilence(await readJsonBody(ctx), now);
    const silence = await silences.create(input, now).catch(unavailable);
    log.info('silence created', {
      id: silence.id,
      author: silence.author,
      matchers: JSON.stringify(silence.matchers),
      until: new Date(silence.ends_at_ms).toISOString(),
    });
    sendJson(ctx, 201, silenceView(silence, now));
  });

  router.delete(`${base}api/v1/silences/:id`, requireToken(apiToken), async (ctx) => {
    const id = ctx.params.id!;
    if (!SILENCE_ID.test(id))
      throw new InputError(`'${id.slice(0, 40)}' is not a silence id (16 hex digits)`);
    const removed = await silences.delete(id).catch(unavailable);
    if (!removed) throw new InputError(`no silence ${id}`, 404, 'not_found');
    log.info('silence deleted', { id });
    sendJson(ctx, 200, silenceView(removed, Date.now()));
  });
};
