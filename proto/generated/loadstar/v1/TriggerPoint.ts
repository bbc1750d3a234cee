// Original file: proto/loadstar.proto

import type { Long } from '@grpc/proto-loader';

export interface TriggerPoint {
  'time_ms'?: (number | string | Long);
  'value'?: (number | string);
}

export interface TriggerPoint__Output {
  'time_ms': (string);
  'value': (number);
}
