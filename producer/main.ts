// The producer (agent): collects this machine's load, and polls the remote
// sources of SOURCES_FILE, every INTERVAL seconds, and delivers one sample per
// host to the receiver through a disk spool that survives outages.
// Also the entry of the one-file agent (deploy/agent/build.ts): no top-level await.
import { startCommand } from '../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../deploy/runtime/lifecycle.ts';
import { createLog } from '../deploy/runtime/log.ts';
import { configuredSources, startAgent } from './agent.ts';
import { producerCommand, readProducerConfig } from './config.ts';
import { answerCommandLine, isAgentBundle } from './usage.ts';

/** The one file carries no .env.example or package.json to read: it answers from its own text. */
function agentConfig() {
  answerCommandLine(process.argv.slice(2));
  return readProducerConfig();
}

const config = isAgentBundle() ? agentConfig() : startCommand(producerCommand);
const log = createLog('producer', config.log);
configuredSources(config, log)
  .then((sources) => startAgent(config, sources, log))
  .then((agent) => onShutdown(log, () => agent.stop()), exitOnStartFailure(log));
