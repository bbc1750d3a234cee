// Original file: proto/loadstar.proto

import type { Reading as _loadstar_v1_Reading, Reading__Output as _loadstar_v1_Reading__Output } from '../../loadstar/v1/Reading.ts';

export interface LatestReply {
  /**
   * one per requested topic that has a value, in request order
   */
  'readings'?: (_loadstar_v1_Reading)[];
  /**
   * requested topics with no value yet
   */
  'missing'?: (string)[];
}

export interface LatestReply__Output {
  /**
   * one per requested topic that has a value, in request order
   */
  'readings': (_loadstar_v1_Reading__Output)[];
  /**
   * requested topics with no value yet
   */
  'missing': (string)[];
}
