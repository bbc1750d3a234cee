// Original file: proto/loadstar.proto

import type { Incident as _loadstar_v1_Incident, Incident__Output as _loadstar_v1_Incident__Output } from '../../loadstar/v1/Incident.ts';
import type { Long } from '@grpc/proto-loader';

export interface IncidentEvent {
  /**
   * incidents stream position; resume with from_seq = seq + 1
   */
  'seq'?: (number | string | Long);
  /**
   * opened or resolved
   */
  'transition'?: (string);
  'incident'?: (_loadstar_v1_Incident | null);
}

export interface IncidentEvent__Output {
  /**
   * incidents stream position; resume with from_seq = seq + 1
   */
  'seq': (string);
  /**
   * opened or resolved
   */
  'transition': (string);
  'incident': (_loadstar_v1_Incident__Output | null);
}
