// The gateway service: serves latest values, hosts and streams over HTTP and gRPC.
import { startCommand } from '../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../deploy/runtime/lifecycle.ts';
import { createLog } from '../deploy/runtime/log.ts';
import { gatewayCommand } from './config.ts';
import { startGateway } from './service.ts';

const config = startCommand(gatewayCommand);
const log = createLog('gateway', config.log);
const gateway = await startGateway(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => gateway.stop());
