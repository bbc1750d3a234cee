// The notifier service: delivers every incident transition (and reminders)
// to webhooks, Slack and Alertmanager, at least once and in order per incident.
import { startCommand } from '../../deploy/runtime/command.ts';
import { exitOnStartFailure, onShutdown } from '../../deploy/runtime/lifecycle.ts';
import { createLog } from '../../deploy/runtime/log.ts';
import { notifierCommand } from './config.ts';
import { startNotifier } from './service.ts';

const config = startCommand(notifierCommand);
const log = createLog('notifier', config.log);
const notifier = await startNotifier(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => notifier.stop());
