// The rules consumer service: opens and resolves incidents from window
// aggregates of each host's samples.
import { exitOnStartFailure, onShutdown } from '../../proto/lifecycle.ts';
import { createLog } from '../../proto/log.ts';
import { readRulesConfig } from './config.ts';
import { startRules } from './service.ts';

const log = createLog('rules');
const config = readRulesConfig();
const rules = await startRules(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => rules.stop());
