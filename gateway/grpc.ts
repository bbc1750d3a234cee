// The gateway's gRPC service: one named handler per RPC of proto/loadstar.proto, typed by
// the generated types. A subscriber that cannot keep up with its bounded queue is ended with
// RESOURCE_EXHAUSTED instead of growing memory or slowing anyone else down. With READ_TOKENS
// set every call needs `authorization: Bearer <token>` metadata (else UNAUTHENTICATED).
import * as grpc from '@grpc/grpc-js';
import { DeliverPolicy } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { UnavailableError } from '../deploy/runtime/http.ts';
import type { Log } from '../deploy/runtime/log.ts';
import type { NatsLink } from '../deploy/runtime/nats.ts';
import type { CertificateWatcher } from '../deploy/runtime/tls.ts';
import { bearerToken } from '../deploy/runtime/tokens.ts';
import {
  type Incident__Output,
  type IncidentEvent__Output,
  type LatestReply__Output,
  type LoadstarHandlers,
  loadLoadstarService,
  type SampleEvent,
  type SampleEvent__Output,
  type SubscribeRequest__Output,
} from '../proto/grpc.ts';
import {
  INCIDENTS_STREAM,
  INCIDENTS_SUBJECTS,
  type Incident,
  type IncidentEvent,
  incidentSubject,
} from '../proto/incident.ts';
import { checkHost, InputError } from '../proto/sample.ts';
import { type ReadAccess, readRefusal } from './auth.ts';
import { type FeedEvent, type LiveFeed, replayFrom, streamEnd } from './feed.ts';
import { ageSeconds, isStale, parseTopics, type ReadModel, type Staleness } from './read.ts';

export interface GrpcSettings {
  host: string;
  port: number;
  /** Samples queued for one subscriber before it is cut off (SUBSCRIBER_BUFFER). */
  subscriberBuffer: number;
  maxTopics: number;
}

export interface GrpcDeps {
  read: ReadModel;
  feed: LiveFeed;
  nats: NatsLink;
  staleness: Staleness;
  registry: Registry;
  /** Who may call (READ_TOKENS, API_TOKEN); anyone without READ_TOKENS. */
  access?: ReadAccess;
  log: Log;
}

/** Refuses, with UNAUTHENTICATED, every call without a read token when READ_TOKENS is set. */
function readTokenInterceptor(access: ReadAccess): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            const [header] = metadata.get('authorization');
            const refusal = readRefusal(
              access,
              bearerToken(typeof header === 'string' ? header : ''),
            );
            if (refusal) call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: refusal });
            else pass(metadata);
          },
        });
      },
    });
}

/**
 * The server's credentials: TLS with the gateway's certificate, kept current
 * (new connections get a renewed one; open ones keep theirs), or plaintext
 * without one. grpc-js takes a changing certificate only from a
 * CertificateProvider (its experimental API); this one is fed by the watcher
 * the HTTP listener uses, so both serve the same pair.
 */
export function grpcCredentials(certificates?: CertificateWatcher): grpc.ServerCredentials {
  if (!certificates) return grpc.ServerCredentials.createInsecure();
  type Identity = grpc.experimental.IdentityCertificateUpdateListener;
  const listeners = new Set<Identity>();
  const update = () => ({
    certificate: certificates.pair.cert,
    privateKey: certificates.pair.key,
  });
  certificates.onChange(() => {
    for (const listener of listeners) listener(update());
  });
  const provider: grpc.experimental.CertificateProvider = {
    addIdentityCertificateListener(listener) {
      listeners.add(listener);
      // Later, not now: grpc-js registers the server's watcher only after this returns.
      setImmediate(() => listeners.has(listener) && listener(update()));
    },
    removeIdentityCertificateListener(listener) {
      listeners.delete(listener);
    },
    addCaCertificateListener() {},
    removeCaCertificateListener() {},
  };
  // grpc-js 1.14 takes its first argument as the identity provider and the second as the CA
  // for client certificates (its typings name them the other way round); no client certificates.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, null, false);
}

function statusOf(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof InputError)
    return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof UnavailableError)
    return { code: grpc.status.UNAVAILABLE, details: err.message };
  return { code: grpc.status.INTERNAL, details: 'internal error; see the gateway log' };
}

/** Which samples and metrics a subscriber asked for. */
class SubscriberFilter {
  private readonly topics: Set<string> | null;
  private readonly hosts: Set<string> | null;
  /** Subscribers with equal filters share one encoding of each event. */
  readonly key: string;

  constructor(request: SubscribeRequest__Output, maxTopics: number) {
    this.topics =
      request.topics.length > 0 ? new Set(parseTopics(request.topics, maxTopics)) : null;
    this.hosts =
      request.hosts.length > 0
        ? new Set(request.hosts.map((h) => checkHost(h, 'hosts entry')))
        : null;
    this.key = `${[...(this.topics ?? [])].sort().join(',')}|${[...(this.hosts ?? [])].sort().join(',')}`;
  }

  hostList(): string[] {
    return this.hosts ? [...this.hosts] : [];
  }

  /** The event for this subscriber, or null when nothing in the sample concerns it. */
  select({ seq, sample }: FeedEvent): SampleEvent__Output | null {
    if (this.hosts && !this.hosts.has(sample.host)) return null;
    let metrics = sample.metrics;
    if (this.topics) {
      metrics = {};
      let any = false;
      for (const topic of this.topics) {
        const value = sample.metrics[topic];
        if (value !== undefined) {
          metrics[topic] = value;
          any = true;
        }
      }
      if (!any) return null;
    }
    return {
      seq: String(seq),
      host: sample.host,
      id: sample.id,
      time_ms: String(sample.time),
      interval_seconds: sample.interval,
      metrics,
    };
  }
}

/** An event already encoded for the wire, with its stream position. */
interface Encoded {
  seq: string;
  bytes: Buffer;
}

/** Writes events to one call, honouring its back-pressure, within a bounded queue. */
class SubscriberQueue {
  private readonly queue: Encoded[] = [];
  private waitingForDrain = false;
  private drained?: () => void;
  ended = false;

  constructor(
    private readonly call: grpc.ServerWritableStream<SubscribeRequest__Output, SampleEvent>,
    private readonly limit: number,
    private readonly onOverflow: (lastSeq: string) => void,
  ) {
    call.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  get length(): number {
    return this.queue.length;
  }

  /** Queues an event; false when the queue was full and the subscriber has been cut off. */
  push(event: Encoded): boolean {
    if (this.ended) return false;
    if (this.queue.length >= this.limit) {
      this.onOverflow(this.queue[0]?.seq ?? event.seq);
      return false;
    }
    this.queue.push(event);
    this.flush();
    return true;
  }

  /** Resolves once the queue is below half full (for replays, which can wait). */
  roomAvailable(): Promise<void> {
    if (this.queue.length < this.limit / 2 || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.waitingForDrain && !this.ended) {
      // Buffers pass the service's serializer untouched (see passThrough below).
      if (!this.call.write(this.queue.shift()!.bytes as unknown as SampleEvent))
        this.waitingForDrain = true;
    }
    if (this.drained && this.queue.length < this.limit / 2) {
      const resolve = this.drained;
      this.drained = undefined;
      resolve();
    }
  }
}

/** What the handlers share: the settings, the gateway's parts and the subscriber metrics. */
interface HandlerContext {
  settings: GrpcSettings;
  deps: GrpcDeps;
  subscribers: Gauge;
  cutOff: Counter;
  delivered: Counter;
  /** Encodes an event for a filter once, however many subscribers share the filter. */
  encode: (event: FeedEvent, filter: SubscriberFilter) => Encoded | null;
}

export function createGrpcServer(settings: GrpcSettings, deps: GrpcDeps): grpc.Server {
  const subscribers = new Gauge({
    name: 'loadstar_grpc_subscribers',
    help: 'gRPC Subscribe calls open now',
    registers: [deps.registry],
  });
  const cutOff = new Counter({
    name: 'loadstar_grpc_subscribers_cut_off_total',
    help: 'Subscribers ended with RESOURCE_EXHAUSTED because their buffer filled',
    registers: [deps.registry],
  });
  const delivered = new Counter({
    name: 'loadstar_grpc_events_sent_total',
    help: 'Sample events queued to gRPC subscribers',
    registers: [deps.registry],
  });

  const server = new grpc.Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    interceptors: deps.access?.readTokens ? [readTokenInterceptor(deps.access)] : [],
  });

  // Subscribe writes events already encoded (once per event and filter, however
  // many subscribers share the filter), so its serializer passes Buffers through.
  const service = loadLoadstarService();
  const subscribe = service.Subscribe;
  const passThrough = {
    ...subscribe,
    responseSerialize: (value: SampleEvent | Buffer) =>
      Buffer.isBuffer(value) ? value : subscribe.responseSerialize(value),
  };
  const encode = (event: FeedEvent, filter: SubscriberFilter): Encoded | null => {
    event.encoded ??= new Map();
    let bytes = event.encoded.get(filter.key);
    if (bytes === undefined) {
      const selected = filter.select(event);
      bytes = selected ? subscribe.responseSerialize(selected) : null;
      event.encoded.set(filter.key, bytes);
    }
    return bytes ? { seq: String(event.seq), bytes } : null;
  };

  const context: HandlerContext = { settings, deps, subscribers, cutOff, delivered, encode };
  const handlers: LoadstarHandlers = {
    Latest: handleLatest(context),
    Subscribe: handleSubscribe(context),
    WatchIncidents: handleWatchIncidents(context),
  };
  server.addService({ ...service, Subscribe: passThrough }, handlers);
  return server;
}

/** Latest: the newest reading of each requested topic, and the topics without one. */
function handleLatest({ settings, deps }: HandlerContext): LoadstarHandlers['Latest'] {
  const { read, staleness } = deps;
  return (call, callback) => {
    (async () => {
      const topics = parseTopics(call.request.topics, settings.maxTopics);
      const host = call.request.host ? checkHost(call.request.host, 'host') : undefined;
      const readings = await read.latest(topics, host);
      const now = Date.now();
      const reply: LatestReply__Output = { readings: [], missing: [] };
      readings.forEach((r, i) => {
        if (!r) {
          reply.missing.push(topics[i]!);
          return;
        }
        reply.readings.push({
          topic: r.topic,
          value: r.value,
          host: r.host,
          time_ms: String(r.time),
          age_seconds: ageSeconds(r.time, now),
          interval_seconds: r.interval,
          stale: isStale(r.time, r.interval, staleness, now),
        });
      });
      return reply;
    })().then(
      (reply) => callback(null, reply),
      (err) => callback(statusOf(err)),
    );
  };
}

/**
 * Subscribe: every matching sample from now (the live feed) or from a stream position (a
 * replay from JetStream), through a bounded queue that cuts off a subscriber too slow for it.
 */
function handleSubscribe(context: HandlerContext): LoadstarHandlers['Subscribe'] {
  const { settings, subscribers, cutOff, delivered, encode } = context;
  const { feed, nats, log } = context.deps;
  return (call) => {
    let filter: SubscriberFilter;
    try {
      filter = new SubscriberFilter(call.request, settings.maxTopics);
    } catch (err) {
      call.emit('error', statusOf(err));
      return;
    }
    const fromSeq = Number(call.request.from_seq);
    const abort = new AbortController();
    let stopListening = () => {};
    subscribers.inc();
    const queue = new SubscriberQueue(call, settings.subscriberBuffer, (lastSeq) => {
      cutOff.inc();
      log.warn('subscriber too slow: cut off', {
        peer: call.getPeer(),
        buffer: settings.subscriberBuffer,
      });
      end({
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `subscriber too slow: its buffer of ${settings.subscriberBuffer} samples filled; resume with from_seq=${lastSeq}`,
      });
    });
    let ended = false;
    const end = (status?: Partial<grpc.StatusObject>) => {
      if (ended) return;
      ended = true;
      queue.ended = true;
      subscribers.dec();
      stopListening();
      abort.abort();
      if (status) {
        // HTTP/2 delivers the status after the messages already in flight, so a client
        // sees it once it reads again; until then it holds no more than its flow-control window.
        call.emit('error', status);
      }
    };
    call.on('cancelled', () => end());
    call.on('close', () => end());
    call.on('error', () => end());

    const offer = (event: FeedEvent) => {
      const encoded = encode(event, filter);
      if (encoded && queue.push(encoded)) delivered.inc();
    };
    if (fromSeq > 0) {
      (async () => {
        for await (const event of replayFrom(nats, fromSeq, filter.hostList(), log, abort.signal)) {
          if (ended) break;
          offer(event);
          await queue.roomAvailable();
        }
      })().catch((err) => {
        log.warn('replay for a subscriber failed', { error: (err as Error).message });
        end({
          code: grpc.status.UNAVAILABLE,
          details: 'the samples stream is not reachable; resume later',
        });
      });
    } else {
      feed.listen(offer).then(
        (stop) => {
          if (ended) stop();
          else stopListening = stop;
        },
        (err: Error) => {
          log.warn('a subscriber could not start', { error: err.message });
          end({
            code: grpc.status.UNAVAILABLE,
            details: 'the samples stream is not reachable; resume later',
          });
        },
      );
    }
  };
}

/** WatchIncidents: every incident transition from now or from a stream position, in order. */
function handleWatchIncidents({ deps }: HandlerContext): LoadstarHandlers['WatchIncidents'] {
  const { nats, log } = deps;
  return (call) => {
    let hosts: string[];
    try {
      hosts = call.request.hosts.map((h) => checkHost(h, 'hosts entry'));
    } catch (err) {
      call.emit('error', statusOf(err));
      return;
    }
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    call.on('close', () => abort.abort());
    readIncidentEvents(nats, hosts, Number(call.request.from_seq), abort.signal, async (event) => {
      // Incidents are few: a slow watcher simply waits for its connection to drain.
      if (!call.write(event)) await new Promise((resolve) => call.once('drain', resolve));
    }).then(
      () => call.end(),
      (err: Error) => {
        if (abort.signal.aborted) return;
        log.warn('incident watch failed', { error: err.message });
        call.emit('error', {
          code: grpc.status.UNAVAILABLE,
          details: 'the incidents stream is not reachable; resume later',
        });
      },
    );
  };
}

/** An incident as the wire carries it: int64 fields as strings, none as 0 or '', pairs as messages. */
function incidentMessage(incident: Incident): Incident__Output {
  return {
    ...incident,
    opened_at_ms: String(incident.opened_at_ms),
    resolved_at_ms: String(incident.resolved_at_ms ?? 0),
    resolution: incident.resolution ?? '',
    samples: String(incident.samples),
    trigger: incident.trigger.map(([time, value]) => ({ time_ms: String(time), value })),
  };
}

/** Incident events from the incidents stream (from now, or from a position), until the signal aborts. */
async function readIncidentEvents(
  nats: NatsLink,
  hosts: string[],
  fromSeq: number,
  signal: AbortSignal,
  send: (event: IncidentEvent__Output) => Promise<void>,
): Promise<void> {
  // "From now" is past the stream's last sequence at the call: nothing from before, nothing after missed.
  const start = fromSeq > 0 ? fromSeq : (await streamEnd(nats, INCIDENTS_STREAM)) + 1;
  const consumer = await nats.js.consumers.get(INCIDENTS_STREAM, {
    filterSubjects: hosts.length === 1 ? incidentSubject(hosts[0]!) : INCIDENTS_SUBJECTS,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
  });
  const messages = await consumer.consume({ max_messages: 64, expires: 5_000 });
  signal.addEventListener('abort', () => void messages.close(), { once: true });
  if (signal.aborted) await messages.close();
  for await (const msg of messages) {
    let event: IncidentEvent;
    try {
      event = JSON.parse(msg.string()) as IncidentEvent;
    } catch {
      continue;
    }
    if (hosts.length > 0 && !hosts.includes(event.incident.host)) continue;
    await send({
      seq: String(msg.seq),
      transition: event.transition,
      incident: incidentMessage(event.incident),
    });
  }
}

export function bindGrpc(
  server: grpc.Server,
  host: string,
  port: number,
  credentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
}
