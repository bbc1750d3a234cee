// Original file: proto/loadstar.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchIncidentsRequest {
  /**
   * empty: every host
   */
  'hosts'?: (string)[];
  /**
   * 0: every event after the stream's last position at the call;
   */
  'from_seq'?: (number | string | Long);
}

export interface WatchIncidentsRequest__Output {
  /**
   * empty: every host
   */
  'hosts': (string)[];
  /**
   * 0: every event after the stream's last position at the call;
   */
  'from_seq': (string);
}
