// What the soak's coordinator and its two load processes (simulated agents,
// gRPC subscribers) say to each other over IPC. Hosts are named by index, so
// both sides agree on who watches whom without sending the list.
import type { LagFigures, Slots } from './lags.ts';

export function hostName(index: number): string {
  return `soak-${String(index).padStart(4, '0')}`;
}

/** The hosts subscriber `i` of `subscribers` watches: every host whose index is i modulo their number. */
export function watchedHosts(i: number, subscribers: number, hosts: number): string[] {
  const names: string[] = [];
  for (let h = i; h < hosts; h += subscribers) names.push(hostName(h));
  return names;
}

/** Metrics each subscriber asks for: three of the sample's twenty, as a dashboard would. */
export const WATCHED_TOPICS = ['cpu', 'mem', 'load.1'];

export interface AgentsSpec {
  receiverUrl: string;
  redisUrl: string;
  hosts: number;
  /** Samples per second, all hosts together; each host's interval is hosts / rate. */
  rate: number;
  durationMs: number;
  slots: Slots;
  /** Most samples in one batch post (the agent's BATCH_SIZE). */
  batchMax: number;
  /** One accepted post in this many is followed by a read of Redis, for the visibility lag. */
  probeEvery: number;
  /** After the last sample is made, how long the agents may take to deliver what they hold. */
  flushMs: number;
  /** Hosts join over this time from the start; from then on all post. */
  rampMs: number;
}

export interface AgentsProgress {
  accepted: number;
  /** Samples made but not yet accepted, over all hosts. */
  queued: number;
  errors: number;
}

export interface AgentsResult {
  made: number[];
  accepted: number[];
  singlePosts: number;
  batchPosts: number;
  /** Samples that went in batch posts. */
  batchedSamples: number;
  largestBatch: number;
  /** Answers other than 200 and transport errors; a 4xx sample is dropped, as the agent does. */
  errors: number;
  /** The same by the slot they happened in, so warm-up and judged span can be told apart. */
  errorsBySlot: number[];
  firstErrors: string[];
  /** Samples a host dropped because its queue was full (the agent's spool limit). */
  dropped: number;
  /** Samples still queued when the flush time ran out. */
  unsent: number;
  largestQueue: number;
  /** The most a scheduler tick ran late: the load process's own health on a shared machine. */
  worstTickLateMs: number;
  /** Post sent to 200 answer. */
  singleLatency: LagFigures;
  batchLatency: LagFigures;
  /** Sample time to the sample being readable in Redis (checked after the 200). */
  visibility: LagFigures;
  /** Probes that never saw their sample in Redis within their time limit. */
  notVisible: number;
}

export type AgentsMessage =
  | { kind: 'progress'; progress: AgentsProgress }
  | { kind: 'result'; result: AgentsResult }
  | { kind: 'error'; error: string };

export interface SubscribersSpec {
  grpcAddress: string;
  hosts: number;
  subscribers: number;
  /** Streams sharing one connection, as the streams of one client process would. */
  perConnection: number;
  slots: Slots;
}

export interface SubscribersResult {
  /** Deliveries by the delivered sample's own time. */
  received: number[];
  /** Sample time to delivery by the gateway's gRPC stream. */
  delivery: LagFigures;
  /** Stream errors other than the cancel at the end, and unexpected ends. */
  streamErrors: number;
  errorsBySlot: number[];
  firstErrors: string[];
  /** Times a subscriber cut off as too slow resumed from its last position. */
  resumes: number;
}

export type SubscribersMessage =
  | { kind: 'ready' }
  | { kind: 'result'; result: SubscribersResult }
  | { kind: 'error'; error: string };

export type CoordinatorMessage =
  | { kind: 'agents'; spec: AgentsSpec }
  | { kind: 'subscribe'; spec: SubscribersSpec }
  | { kind: 'finish' };
