// Starts loadstar as in production, one process per service (receiver, store,
// gateway) built as `npm start` runs them, on free loopback ports, and
// the bare-Koa ceiling beside it; each is returned once its /readyz answers 200.
import type { ServerProcess } from '../harness/servers.ts';
import { freePort } from '../harness/servers.ts';
import { type Child, type Processes, waitReady } from './processes.ts';

export interface Loadstar {
  receiverUrl: string;
  /** WEB_SERVER_URL, ending in '/'. */
  gatewayUrl: string;
  grpcAddress: string;
  receiver: Child;
  store: Child;
  gateway: Child;
}

export async function startLoadstar(
  processes: Processes,
  servers: { nats: ServerProcess; redis: ServerProcess },
): Promise<Loadstar> {
  const [receiverPort, storePort, gatewayPort, grpcPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const settings = {
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    RECEIVER_URL: `http://127.0.0.1:${receiverPort}/data`,
    STORE_URL: `http://127.0.0.1:${storePort}/`,
    WEB_SERVER_URL: `http://127.0.0.1:${gatewayPort}/`,
    GRPC_URL: `127.0.0.1:${grpcPort}`,
    // The history phase seeds 30 days of samples: the pipeline must accept samples that old.
    SAMPLE_MAX_AGE: '31d',
  };
  processes.buildServices();
  // The receiver first: it creates the samples stream the others then find.
  const receiver = processes.startNode('receiver', 'receiver/main.ts', settings, { built: true });
  await waitReady(receiver, `http://127.0.0.1:${receiverPort}/readyz`);
  const store = processes.startNode('store', 'receiver/store/main.ts', settings, {
    built: true,
  });
  const gateway = processes.startNode('gateway', 'gateway/main.ts', settings, { built: true });
  await Promise.all([
    waitReady(store, `${settings.STORE_URL}readyz`),
    waitReady(gateway, `${settings.WEB_SERVER_URL}readyz`),
  ]);
  return {
    receiverUrl: settings.RECEIVER_URL,
    gatewayUrl: settings.WEB_SERVER_URL,
    grpcAddress: settings.GRPC_URL,
    receiver,
    store,
    gateway,
  };
}

export interface Ceiling {
  postUrl: string;
  getUrl: string;
  child: Child;
}

export async function startCeiling(processes: Processes): Promise<Ceiling> {
  const port = await freePort();
  const child = processes.startNode('ceiling', 'test/bench/ceiling.ts', {
    CEILING_URL: `http://127.0.0.1:${port}/`,
  });
  await waitReady(child, `http://127.0.0.1:${port}/readyz`);
  return { postUrl: `http://127.0.0.1:${port}/data`, getUrl: `http://127.0.0.1:${port}/`, child };
}
