// The receiver service: validates posted samples, records them in JetStream and
// makes them readable before it answers 200.
import { startCommand } from '../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../deploy/runtime/lifecycle.ts';
import { createLog } from '../deploy/runtime/log.ts';
import { receiverCommand } from './config.ts';
import { startReceiver } from './service.ts';

const config = startCommand(receiverCommand);
const log = createLog('receiver', config.log);
const receiver = await startReceiver(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => receiver.stop());
