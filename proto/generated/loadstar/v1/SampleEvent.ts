// Original file: proto/loadstar.proto

import type { Long } from '@grpc/proto-loader';

export interface SampleEvent {
  /**
   * stream position; resume with from_seq = seq + 1
   */
  'seq'?: (number | string | Long);
  'host'?: (string);
  'id'?: (string);
  'time_ms'?: (number | string | Long);
  'interval_seconds'?: (number | string);
  'metrics'?: ({[key: string]: number | string});
}

export interface SampleEvent__Output {
  /**
   * stream position; resume with from_seq = seq + 1
   */
  'seq': (string);
  'host': (string);
  'id': (string);
  'time_ms': (string);
  'interval_seconds': (number);
  'metrics': ({[key: string]: number});
}
