// The producer (agent): collects this machine's load, and polls the remote
// sources of SOURCES_FILE, every INTERVAL seconds, and delivers one sample per
// host to the receiver through a disk spool that survives outages.
import { startCommand } from '../proto/command.ts';
import { exitOnStartFailure, onShutdown } from '../proto/lifecycle.ts';
import { createLog } from '../proto/log.ts';
import { configuredSources, startAgent } from './agent.ts';
import { producerCommand } from './config.ts';

const config = startCommand(producerCommand);
const log = createLog('producer', config.log);
const agent = await configuredSources(config, log)
  .then((sources) => startAgent(config, sources, log))
  .catch(exitOnStartFailure(log));
onShutdown(log, () => agent.stop());
