// Loads proto/loadstar.proto at run time (the .proto is the source of truth)
// and gives its messages TypeScript shapes. A test checks these shapes against
// the loaded definition, so the two cannot drift apart.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Incident } from './incident.ts';

export const PROTO_PATH = new URL('./loadstar.proto', import.meta.url).pathname;

/** keepCase keeps snake_case field names; longs as strings keep int64 exact. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  defaults: true,
  oneofs: true,
};

export interface LatestRequest {
  topics: string[];
  host: string;
}
export interface Reading {
  topic: string;
  value: number;
  host: string;
  time_ms: string | number;
  age_seconds: number;
  interval_seconds: number;
  stale: boolean;
}
export interface LatestReply {
  readings: Reading[];
  missing: string[];
}
export interface SubscribeRequest {
  topics: string[];
  hosts: string[];
  from_seq: string | number;
}
export interface SampleEvent {
  seq: string | number;
  host: string;
  id: string;
  time_ms: string | number;
  interval_seconds: number;
  metrics: Record<string, number>;
}

export interface WatchIncidentsRequest {
  hosts: string[];
  from_seq: string | number;
}
/**
 * An incident on the wire: the fields of `Incident`, with int64 fields as
 * proto-loader gives them (strings, see LOADER_OPTIONS), no resolve time as 0,
 * no resolution as '', and the trigger's pairs as messages.
 */
export type IncidentMessage = Omit<
  Incident,
  'state' | 'opened_at_ms' | 'resolved_at_ms' | 'samples' | 'trigger' | 'resolution' | 'kind'
> & {
  state: string;
  kind: string;
  resolution: string;
  opened_at_ms: string | number;
  resolved_at_ms: string | number;
  samples: string | number;
  trigger: { time_ms: string | number; value: number }[];
};

export function incidentMessage(incident: Incident): IncidentMessage {
  return {
    ...incident,
    opened_at_ms: String(incident.opened_at_ms),
    resolved_at_ms: String(incident.resolved_at_ms ?? 0),
    resolution: incident.resolution ?? '',
    samples: String(incident.samples),
    trigger: incident.trigger.map(([time, value]) => ({ time_ms: String(time), value })),
  };
}

export interface IncidentEventMessage {
  seq: string | number;
  transition: string;
  incident: IncidentMessage;
}

export function loadLoadstarService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    loadstar: { v1: { Loadstar: grpc.ServiceClientConstructor } };
  };
  return pkg.loadstar.v1.Loadstar.service;
}

/** A gateway with READ_TOKENS set wants metadata `authorization: Bearer <token>` on every call. */
export type LoadstarClient = grpc.Client & {
  Latest(
    request: Partial<LatestRequest>,
    callback: (err: grpc.ServiceError | null, reply: LatestReply) => void,
  ): grpc.ClientUnaryCall;
  Latest(
    request: Partial<LatestRequest>,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, reply: LatestReply) => void,
  ): grpc.ClientUnaryCall;
  Latest(
    request: Partial<LatestRequest>,
    metadata: grpc.Metadata,
    callback: (err: grpc.ServiceError | null, reply: LatestReply) => void,
  ): grpc.ClientUnaryCall;
  WatchIncidents(
    request: Partial<WatchIncidentsRequest>,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientReadableStream<IncidentEventMessage>;
  WatchIncidents(
    request: Partial<WatchIncidentsRequest>,
    metadata: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientReadableStream<IncidentEventMessage>;
  Subscribe(
    request: Partial<SubscribeRequest>,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientReadableStream<SampleEvent>;
  Subscribe(
    request: Partial<SubscribeRequest>,
    metadata: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientReadableStream<SampleEvent>;
};

/** A client for the gateway's gRPC service at host:port. */
export function createLoadstarClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): LoadstarClient {
  const Client = grpc.makeGenericClientConstructor(loadLoadstarService(), 'Loadstar');
  return new Client(address, credentials, options) as unknown as LoadstarClient;
}
