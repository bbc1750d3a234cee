// GET api/v1/receivers: where alerts go (as the notifier registered them), with
// each one's deliveries sent, failed, dropped and waiting, and its last error.
import { sendJson } from '../../deploy/runtime/http.ts';
import { receiverView } from '../../proto/receivers.ts';
import { unavailable } from '../read.ts';
import type { RouteGroup } from './context.ts';

export const receiverRoutes: RouteGroup = (router, { base, receivers }) => {
  router.get(`${base}api/v1/receivers`, async (ctx) => {
    const list = await receivers().catch(unavailable);
    sendJson(ctx, 200, { receivers: list.map(receiverView) });
  });
};
