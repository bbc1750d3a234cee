// The storage consumer service: folds every sample of the stream into Redis.
import { exitOnStartFailure, onShutdown } from '../../proto/lifecycle.ts';
import { createLog } from '../../proto/log.ts';
import { readStoreConfig } from './config.ts';
import { startStore } from './service.ts';

const log = createLog('consumer');
const config = readStoreConfig();
const store = await startStore(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => store.stop());
