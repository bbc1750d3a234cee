// Original file: proto/loadstar.proto

import type { Long } from '@grpc/proto-loader';

export interface Reading {
  'topic'?: (string);
  'value'?: (number | string);
  'host'?: (string);
  /**
   * the sample's own time, epoch milliseconds
   */
  'time_ms'?: (number | string | Long);
  'age_seconds'?: (number | string);
  /**
   * as the producer declared it; 0 when unknown
   */
  'interval_seconds'?: (number | string);
  /**
   * older than STALE_FACTOR intervals of its host
   */
  'stale'?: (boolean);
}

export interface Reading__Output {
  'topic': (string);
  'value': (number);
  'host': (string);
  /**
   * the sample's own time, epoch milliseconds
   */
  'time_ms': (string);
  'age_seconds': (number);
  /**
   * as the producer declared it; 0 when unknown
   */
  'interval_seconds': (number);
  /**
   * older than STALE_FACTOR intervals of its host
   */
  'stale': (boolean);
}
