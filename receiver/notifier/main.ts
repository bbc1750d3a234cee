// The notifier service: delivers every incident transition (and reminders)
// to webhooks, Slack and Alertmanager, at least once and in order per incident.
import { exitOnStartFailure, onShutdown } from '../../proto/lifecycle.ts';
import { createLog } from '../../proto/log.ts';
import { readNotifierConfig } from './config.ts';
import { startNotifier } from './service.ts';

const log = createLog('notifier');
const config = readNotifierConfig();
const notifier = await startNotifier(config, log).catch(exitOnStartFailure(log));
onShutdown(log, () => notifier.stop());
