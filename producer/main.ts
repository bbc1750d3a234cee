// The producer (agent): collects this machine's load every INTERVAL seconds and
// delivers it to the receiver through a disk spool that survives outages.
import { exitOnStartFailure, onShutdown } from '../proto/lifecycle.ts';
import { createLog } from '../proto/log.ts';
import { localSources, startAgent } from './agent.ts';
import { readProducerConfig } from './config.ts';

const log = createLog('producer');
const config = readProducerConfig();
const agent = await localSources(config, log)
  .then((sources) => startAgent(config, sources, log))
  .catch(exitOnStartFailure(log));
onShutdown(log, () => agent.stop());
