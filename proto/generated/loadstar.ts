import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Incident as _loadstar_v1_Incident, Incident__Output as _loadstar_v1_Incident__Output } from './loadstar/v1/Incident.ts';
import type { IncidentEvent as _loadstar_v1_IncidentEvent, IncidentEvent__Output as _loadstar_v1_IncidentEvent__Output } from './loadstar/v1/IncidentEvent.ts';
import type { LatestReply as _loadstar_v1_LatestReply, LatestReply__Output as _loadstar_v1_LatestReply__Output } from './loadstar/v1/LatestReply.ts';
import type { LatestRequest as _loadstar_v1_LatestRequest, LatestRequest__Output as _loadstar_v1_LatestRequest__Output } from './loadstar/v1/LatestRequest.ts';
import type { LoadstarClient as _loadstar_v1_LoadstarClient, LoadstarDefinition as _loadstar_v1_LoadstarDefinition } from './loadstar/v1/Loadstar.ts';
import type { Reading as _loadstar_v1_Reading, Reading__Output as _loadstar_v1_Reading__Output } from './loadstar/v1/Reading.ts';
import type { SampleEvent as _loadstar_v1_SampleEvent, SampleEvent__Output as _loadstar_v1_SampleEvent__Output } from './loadstar/v1/SampleEvent.ts';
import type { SubscribeRequest as _loadstar_v1_SubscribeRequest, SubscribeRequest__Output as _loadstar_v1_SubscribeRequest__Output } from './loadstar/v1/SubscribeRequest.ts';
import type { TriggerPoint as _loadstar_v1_TriggerPoint, TriggerPoint__Output as _loadstar_v1_TriggerPoint__Output } from './loadstar/v1/TriggerPoint.ts';
import type { WatchIncidentsRequest as _loadstar_v1_WatchIncidentsRequest, WatchIncidentsRequest__Output as _loadstar_v1_WatchIncidentsRequest__Output } from './loadstar/v1/WatchIncidentsRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  loadstar: {
    v1: {
      Incident: MessageTypeDefinition<_loadstar_v1_Incident, _loadstar_v1_Incident__Output>
      IncidentEvent: MessageTypeDefinition<_loadstar_v1_IncidentEvent, _loadstar_v1_IncidentEvent__Output>
      LatestReply: MessageTypeDefinition<_loadstar_v1_LatestReply, _loadstar_v1_LatestReply__Output>
      LatestRequest: MessageTypeDefinition<_loadstar_v1_LatestRequest, _loadstar_v1_LatestRequest__Output>
      Loadstar: SubtypeConstructor<typeof grpc.Client, _loadstar_v1_LoadstarClient> & { service: _loadstar_v1_LoadstarDefinition }
      Reading: MessageTypeDefinition<_loadstar_v1_Reading, _loadstar_v1_Reading__Output>
      SampleEvent: MessageTypeDefinition<_loadstar_v1_SampleEvent, _loadstar_v1_SampleEvent__Output>
      SubscribeRequest: MessageTypeDefinition<_loadstar_v1_SubscribeRequest, _loadstar_v1_SubscribeRequest__Output>
      TriggerPoint: MessageTypeDefinition<_loadstar_v1_TriggerPoint, _loadstar_v1_TriggerPoint__Output>
      WatchIncidentsRequest: MessageTypeDefinition<_loadstar_v1_WatchIncidentsRequest, _loadstar_v1_WatchIncidentsRequest__Output>
    }
  }
}

