// The rules consumer service: opens and resolves incidents from window
// aggregates of each host's samples.
import { startCommand } from '../../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../../deploy/runtime/lifecycle.ts';
import { createLog } from '../../deploy/runtime/log.ts';
import { rulesCommand } from './config.ts';
import { startRules } from './service.ts';

const config = startCommand(rulesCommand);
const log = createLog('rules', config.log);
const rules = await startRules(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => rules.stop());
