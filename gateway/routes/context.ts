// What every route group of the gateway is given: the read side, the live
// feed, recording control, silences and acknowledgements, and the settings
// they answer by.
import type Router from '@koa/router';
import type { Log } from '../../deploy/runtime/log.ts';
import type { RedisClient } from '../../deploy/runtime/redis.ts';
import type { AckStore } from '../../proto/ack.ts';
import type { ReceiverStatus } from '../../proto/receivers.ts';
import type { Retention } from '../../proto/retention.ts';
import type { SilenceStore } from '../../proto/silence.ts';
import type { LiveFeed } from '../feed.ts';
import type { HistoryLimits } from '../history.ts';
import type { IncidentReader } from '../incidents.ts';
import type { ReadModel, Staleness } from '../read.ts';
import type { RecordingControl } from '../recording.ts';

export interface GatewayRoutes {
  /** The path of WEB_SERVER_URL, ending in '/'. */
  base: string;
  redis: RedisClient;
  read: ReadModel;
  feed: LiveFeed;
  recording: RecordingControl;
  incidents: IncidentReader;
  silences: SilenceStore;
  acks: AckStore;
  /** Every receiver the notifier registered, with its counters and queue. */
  receivers: () => Promise<ReceiverStatus[]>;
  staleness: Staleness;
  retention: Retention;
  history: HistoryLimits & { gapFactor: number };
  maxTopics: number;
  apiToken?: string;
  /** Where the receivers listen, for the API document's servers. */
  receiverUrls: URL[];
  log: Log;
}

export type RouteGroup = (router: Router, deps: GatewayRoutes) => void;

/** Floats in API answers: values, intervals and the like, never counts or times. */
export const FLOAT_FIELDS = new Set(['value', 'interval', 'avg', 'min', 'max']);
