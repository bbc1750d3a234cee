// Every type of receiver, by the name the settings and RULES_FILE use.
import type { ReceiverType } from '../../../proto/receivers.ts';
import { alertmanager } from './alertmanager.ts';
import type { ReceiverKind } from './kind.ts';
import { slack } from './slack.ts';
import { webhook } from './webhook.ts';

export const RECEIVER_KINDS: Record<ReceiverType, ReceiverKind> = { webhook, slack, alertmanager };
