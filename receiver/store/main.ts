// The storage consumer service: folds every sample of the stream into Redis.
import { startCommand } from '../../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../../deploy/runtime/lifecycle.ts';
import { createLog } from '../../deploy/runtime/log.ts';
import { storeCommand } from './config.ts';
import { startStore } from './service.ts';

const config = startCommand(storeCommand);
const log = createLog('store', config.log);
const store = await startStore(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => store.stop());
