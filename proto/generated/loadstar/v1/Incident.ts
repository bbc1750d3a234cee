// Original file: proto/loadstar.proto

import type { TriggerPoint as _loadstar_v1_TriggerPoint, TriggerPoint__Output as _loadstar_v1_TriggerPoint__Output } from '../../loadstar/v1/TriggerPoint.ts';
import type { Long } from '@grpc/proto-loader';

export interface Incident {
  'id'?: (string);
  'rule'?: (string);
  'host'?: (string);
  'metric'?: (string);
  'severity'?: (string);
  /**
   * open or resolved
   */
  'state'?: (string);
  'opened_at_ms'?: (number | string | Long);
  /**
   * 0 while open
   */
  'resolved_at_ms'?: (number | string | Long);
  /**
   * avg, min or max over the window
   */
  'aggregate'?: (string);
  /**
   * >, >=, < or <=
   */
  'op'?: (string);
  'threshold'?: (number | string);
  'resolve_threshold'?: (number | string);
  /**
   * as the rule says it: "3 samples", "5m"
   */
  'window'?: (string);
  /**
   * over the episode so far
   */
  'min'?: (number | string);
  'avg'?: (number | string);
  'max'?: (number | string);
  'samples'?: (number | string | Long);
  /**
   * the window's values when it opened
   */
  'trigger'?: (_loadstar_v1_TriggerPoint)[];
  /**
   * threshold, or absent (the host sent nothing: metric, aggregate and op empty)
   */
  'kind'?: (string);
  /**
   * empty while open; recovered, or host_silent (ended as the host went silent)
   */
  'resolution'?: (string);
}

export interface Incident__Output {
  'id': (string);
  'rule': (string);
  'host': (string);
  'metric': (string);
  'severity': (string);
  /**
   * open or resolved
   */
  'state': (string);
  'opened_at_ms': (string);
  /**
   * 0 while open
   */
  'resolved_at_ms': (string);
  /**
   * avg, min or max over the window
   */
  'aggregate': (string);
  /**
   * >, >=, < or <=
   */
  'op': (string);
  'threshold': (number);
  'resolve_threshold': (number);
  /**
   * as the rule says it: "3 samples", "5m"
   */
  'window': (string);
  /**
   * over the episode so far
   */
  'min': (number);
  'avg': (number);
  'max': (number);
  'samples': (string);
  /**
   * the window's values when it opened
   */
  'trigger': (_loadstar_v1_TriggerPoint__Output)[];
  /**
   * threshold, or absent (the host sent nothing: metric, aggregate and op empty)
   */
  'kind': (string);
  /**
   * empty while open; recovered, or host_silent (ended as the host went silent)
   */
  'resolution': (string);
}
