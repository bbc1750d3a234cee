// Original file: proto/loadstar.proto

import type { Long } from '@grpc/proto-loader';

export interface SubscribeRequest {
  /**
   * empty: every metric; otherwise each event holds only these
   */
  'topics'?: (string)[];
  /**
   * empty: every host
   */
  'hosts'?: (string)[];
  /**
   * 0: every sample after the stream's last position at the call
   */
  'from_seq'?: (number | string | Long);
}

export interface SubscribeRequest__Output {
  /**
   * empty: every metric; otherwise each event holds only these
   */
  'topics': (string)[];
  /**
   * empty: every host
   */
  'hosts': (string)[];
  /**
   * 0: every sample after the stream's last position at the call
   */
  'from_seq': (string);
}
