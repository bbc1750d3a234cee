// The gateway service: serves latest values, hosts and streams over HTTP and gRPC.
import { startCommand } from '../proto/command.ts';
import { exitOnStartFailure, onShutdown } from '../proto/lifecycle.ts';
import { createLog } from '../proto/log.ts';
import { gatewayCommand } from './config.ts';
import { startGateway } from './service.ts';

const config = startCommand(gatewayCommand);
const log = createLog('gateway', config.log);
const gateway = await startGateway(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => gateway.stop());
