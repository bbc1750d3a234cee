// Loads proto/loadstar.proto at run time (the .proto is the source of truth) and
// types it with the code `npm run grpc-types` generates from it into proto/generated/.
// Never restate a message by hand: edit the .proto and regenerate (a test fails on stale types).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { LoadstarClient, LoadstarDefinition } from './generated/loadstar/v1/Loadstar.ts';
import type { ProtoGrpcType } from './generated/loadstar.ts';

// Each message comes in two shapes: `X`, what a sender may pass (every field optional), and
// `X__Output`, what a receiver gets with LOADER_OPTIONS (every field set, int64 as a string,
// a message field possibly null).
export type { Incident, Incident__Output } from './generated/loadstar/v1/Incident.ts';
export type {
  IncidentEvent,
  IncidentEvent__Output,
} from './generated/loadstar/v1/IncidentEvent.ts';
export type { LatestReply, LatestReply__Output } from './generated/loadstar/v1/LatestReply.ts';
export type {
  LatestRequest,
  LatestRequest__Output,
} from './generated/loadstar/v1/LatestRequest.ts';
export type {
  LoadstarClient,
  LoadstarDefinition,
  LoadstarHandlers,
} from './generated/loadstar/v1/Loadstar.ts';
export type { Reading, Reading__Output } from './generated/loadstar/v1/Reading.ts';
export type { SampleEvent, SampleEvent__Output } from './generated/loadstar/v1/SampleEvent.ts';
export type {
  SubscribeRequest,
  SubscribeRequest__Output,
} from './generated/loadstar/v1/SubscribeRequest.ts';
export type {
  WatchIncidentsRequest,
  WatchIncidentsRequest__Output,
} from './generated/loadstar/v1/WatchIncidentsRequest.ts';

export const PROTO_PATH = new URL('./loadstar.proto', import.meta.url).pathname;

/**
 * keepCase keeps snake_case field names; longs as strings keep int64 exact. The `grpc-types`
 * script in package.json passes the same options to the generator, so the types match.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  defaults: true,
  oneofs: true,
};

function loadPackage(): ProtoGrpcType {
  const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}

export function loadLoadstarService(): LoadstarDefinition {
  return loadPackage().loadstar.v1.Loadstar.service;
}

/**
 * A client for the gateway's gRPC service at host:port. A gateway with READ_TOKENS set wants
 * metadata `authorization: Bearer <token>` on every call.
 */
export function createLoadstarClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): LoadstarClient {
  return new (loadPackage().loadstar.v1.Loadstar)(address, credentials, options);
}
