// The gateway service: serves latest values, hosts and streams over HTTP and gRPC.
import { exitOnStartFailure, onShutdown } from '../proto/lifecycle.ts';
import { createLog } from '../proto/log.ts';
import { readGatewayConfig } from './config.ts';
import { startGateway } from './service.ts';

const log = createLog('gateway');
const config = readGatewayConfig();
const gateway = await startGateway(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => gateway.stop());
