// Original file: proto/loadstar.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { IncidentEvent as _loadstar_v1_IncidentEvent, IncidentEvent__Output as _loadstar_v1_IncidentEvent__Output } from '../../loadstar/v1/IncidentEvent.ts';
import type { LatestReply as _loadstar_v1_LatestReply, LatestReply__Output as _loadstar_v1_LatestReply__Output } from '../../loadstar/v1/LatestReply.ts';
import type { LatestRequest as _loadstar_v1_LatestRequest, LatestRequest__Output as _loadstar_v1_LatestRequest__Output } from '../../loadstar/v1/LatestRequest.ts';
import type { SampleEvent as _loadstar_v1_SampleEvent, SampleEvent__Output as _loadstar_v1_SampleEvent__Output } from '../../loadstar/v1/SampleEvent.ts';
import type { SubscribeRequest as _loadstar_v1_SubscribeRequest, SubscribeRequest__Output as _loadstar_v1_SubscribeRequest__Output } from '../../loadstar/v1/SubscribeRequest.ts';
import type { WatchIncidentsRequest as _loadstar_v1_WatchIncidentsRequest, WatchIncidentsRequest__Output as _loadstar_v1_WatchIncidentsRequest__Output } from '../../loadstar/v1/WatchIncidentsRequest.ts';

export interface LoadstarClient extends grpc.Client {
  /**
   * The newest value of each requested metric (from any host, or from one).
   */
  Latest(argument: _loadstar_v1_LatestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  Latest(argument: _loadstar_v1_LatestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  Latest(argument: _loadstar_v1_LatestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  Latest(argument: _loadstar_v1_LatestRequest, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  /**
   * The newest value of each requested metric (from any host, or from one).
   */
  latest(argument: _loadstar_v1_LatestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  latest(argument: _loadstar_v1_LatestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  latest(argument: _loadstar_v1_LatestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  latest(argument: _loadstar_v1_LatestRequest, callback: grpc.requestCallback<_loadstar_v1_LatestReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every matching sample published after the call, in stream order (so in
   * order per host), or from a given stream position so that a reconnecting
   * subscriber misses nothing. A subscriber too slow to keep up is ended with
   * RESOURCE_EXHAUSTED and may resume from the last seq it received plus one.
   */
  Subscribe(argument: _loadstar_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_SampleEvent__Output>;
  Subscribe(argument: _loadstar_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_SampleEvent__Output>;
  /**
   * Every matching sample published after the call, in stream order (so in
   * order per host), or from a given stream position so that a reconnecting
   * subscriber misses nothing. A subscriber too slow to keep up is ended with
   * RESOURCE_EXHAUSTED and may resume from the last seq it received plus one.
   */
  subscribe(argument: _loadstar_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_SampleEvent__Output>;
  subscribe(argument: _loadstar_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_SampleEvent__Output>;
  
  /**
   * Every incident opened or resolved after the call (or from a stream
   * position), in order: one event per transition.
   */
  WatchIncidents(argument: _loadstar_v1_WatchIncidentsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_IncidentEvent__Output>;
  WatchIncidents(argument: _loadstar_v1_WatchIncidentsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_IncidentEvent__Output>;
  /**
   * Every incident opened or resolved after the call (or from a stream
   * position), in order: one event per transition.
   */
  watchIncidents(argument: _loadstar_v1_WatchIncidentsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_IncidentEvent__Output>;
  watchIncidents(argument: _loadstar_v1_WatchIncidentsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_loadstar_v1_IncidentEvent__Output>;
  
}

export interface LoadstarHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The newest value of each requested metric (from any host, or from one).
   */
  Latest: grpc.handleUnaryCall<_loadstar_v1_LatestRequest__Output, _loadstar_v1_LatestReply>;
  
  /**
   * Every matching sample published after the call, in stream order (so in
   * order per host), or from a given stream position so that a reconnecting
   * subscriber misses nothing. A subscriber too slow to keep up is ended with
   * RESOURCE_EXHAUSTED and may resume from the last seq it received plus one.
   */
  Subscribe: grpc.handleServerStreamingCall<_loadstar_v1_SubscribeRequest__Output, _loadstar_v1_SampleEvent>;
  
  /**
   * Every incident opened or resolved after the call (or from a stream
   * position), in order: one event per transition.
   */
  WatchIncidents: grpc.handleServerStreamingCall<_loadstar_v1_WatchIncidentsRequest__Output, _loadstar_v1_IncidentEvent>;
  
}

export interface LoadstarDefinition extends grpc.ServiceDefinition {
  Latest: MethodDefinition<_loadstar_v1_LatestRequest, _loadstar_v1_LatestReply, _loadstar_v1_LatestRequest__Output, _loadstar_v1_LatestReply__Output>
  Subscribe: MethodDefinition<_loadstar_v1_SubscribeRequest, _loadstar_v1_SampleEvent, _loadstar_v1_SubscribeRequest__Output, _loadstar_v1_SampleEvent__Output>
  WatchIncidents: MethodDefinition<_loadstar_v1_WatchIncidentsRequest, _loadstar_v1_IncidentEvent, _loadstar_v1_WatchIncidentsRequest__Output, _loadstar_v1_IncidentEvent__Output>
}
