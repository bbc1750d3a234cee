// The receiver service: validates posted samples, records them in JetStream and
// makes them readable before it answers 200.
import { exitOnStartFailure, onShutdown } from '../proto/lifecycle.ts';
import { createLog } from '../proto/log.ts';
import { readReceiverConfig } from './config.ts';
import { startReceiver } from './service.ts';

const log = createLog('receiver');
const config = readReceiverConfig();
const receiver = await startReceiver(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => receiver.stop());
