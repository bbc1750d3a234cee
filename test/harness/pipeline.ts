// Builds the pipeline's services in-process, on free ports, against the run's
// shared nats-server and redis-server (or others given), the same way each
// service's main.ts does.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import type { Env } from '../../deploy/runtime/config.ts';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { readGatewayConfig } from '../../gateway/config.ts';
import { type RunningGateway, startGateway } from '../../gateway/service.ts';
import { encodeSample, type Sample } from '../../proto/sample.ts';
import { readRawPoints } from '../../proto/store/codec.ts';
import { sampleMsgId, sampleSubject } from '../../proto/subjects.ts';
import { readReceiverConfig } from '../../receiver/config.ts';
import { readNotifierConfig } from '../../receiver/notifier/config.ts';
import { type RunningNotifier, startNotifier } from '../../receiver/notifier/service.ts';
import { readRulesConfig } from '../../receiver/rules/config.ts';
import { type RunningRules, startRules } from '../../receiver/rules/service.ts';
import { type RunningReceiver, startReceiver } from '../../receiver/service.ts';
import { readStoreConfig } from '../../receiver/store/config.ts';
import { type RunningStore, startStore } from '../../receiver/store/service.ts';
import { shared } from './root-hooks.ts';

/** Settings as a service would read them, pointed at the test servers and free ports. */
export function testEnv(overrides: Record<string, string> = {}): Env {
  return {
    NATS_URL: shared.natsUrl,
    REDIS_URL: shared.redisUrl,
    RECEIVER_URL: 'http://127.0.0.1:0/data',
    WEB_SERVER_URL: 'http://127.0.0.1:0/',
    GRPC_URL: '127.0.0.1:0',
    STORE_URL: 'http://127.0.0.1:0/',
    RULES_URL: 'http://127.0.0.1:0/',
    NOTIFIER_URL: 'http://127.0.0.1:0/',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

/** A name no other test uses, so tests never see each other's samples. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function receiverOn(
  overrides: Record<string, string> = {},
): Promise<RunningReceiver & { log: ReturnType<typeof createMemoryLog> }> {
  const log = createMemoryLog('receiver');
  const receiver = await startReceiver(readReceiverConfig(testEnv(overrides)), log);
  return Object.assign(receiver, { log });
}

export async function storeOn(
  overrides: Record<string, string> = {},
): Promise<RunningStore & { log: ReturnType<typeof createMemoryLog> }> {
  const log = createMemoryLog('store');
  const store = await startStore(readStoreConfig(testEnv(overrides)), log);
  return Object.assign(store, { log });
}

export async function gatewayOn(
  overrides: Record<string, string> = {},
): Promise<RunningGateway & { log: ReturnType<typeof createMemoryLog> }> {
  const log = createMemoryLog('gateway');
  const gateway = await startGateway(readGatewayConfig(testEnv(overrides)), log);
  return Object.assign(gateway, { log });
}

/** Posts one sample as a producer would; returns status and parsed body. */
export async function postSample(
  receiverUrl: URL | string,
  metrics: Record<string, number> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(receiverUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof metrics === 'string' ? metrics : JSON.stringify(metrics),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read answers of many shapes and assert on their fields.
type Json = any;

export async function getJson(
  url: URL | string,
): Promise<{ status: number; body: Json; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

/** A plain Redis client on the run's server (or another), for inspecting what the fold wrote. */
export function redisClient(url = shared.redisUrl): Redis {
  return new Redis(url);
}

/** The raw history of one metric of one host, as [time, value] pairs, oldest first. */
export async function history(
  redis: Redis,
  host: string,
  metric: string,
): Promise<[number, number][]> {
  // Two days back covers any test's synthetic times; the blocks name the hours.
  return readRawPoints(redis, host, metric, Date.now() - 2 * 86_400_000, Date.now() + 3_600_000);
}

/** A NATS connection to the run's server (or another), for publishing to or reading the stream directly. */
export function natsClient(url = shared.natsUrl): Promise<NatsConnection> {
  return connect({ servers: new URL(url).host });
}

/** Publishes a sample straight into the stream, as a receiver does before its own fold. */
export async function publishSample(
  nc: NatsConnection,
  sample: Sample,
  msgId = sampleMsgId(sample.host, sample.id),
) {
  return nc.jetstream().publish(sampleSubject(sample.host), encodeSample(sample), { msgID: msgId });
}

export async function rulesOn(
  overrides: Record<string, string> = {},
): Promise<RunningRules & { log: ReturnType<typeof createMemoryLog> }> {
  const log = createMemoryLog('rules');
  const rules = await startRules(readRulesConfig(testEnv(overrides)), log);
  return Object.assign(rules, { log });
}

export async function notifierOn(
  overrides: Record<string, string> = {},
): Promise<RunningNotifier & { log: ReturnType<typeof createMemoryLog> }> {
  const log = createMemoryLog('notifier');
  const notifier = await startNotifier(readNotifierConfig(testEnv(overrides)), log);
  return Object.assign(notifier, { log });
}
