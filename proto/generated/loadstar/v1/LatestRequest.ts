// Original file: proto/loadstar.proto


export interface LatestRequest {
  /**
   * metric names; at least one
   */
  'topics'?: (string)[];
  /**
   * empty: the newest from any host
   */
  'host'?: (string);
}

export interface LatestRequest__Output {
  /**
   * metric names; at least one
   */
  'topics': (string)[];
  /**
   * empty: the newest from any host
   */
  'host': (string);
}
