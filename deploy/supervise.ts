// `npm start`: runs receiver, storage consumer, gateway and producer as child
// processes with one readable, prefixed log, restarting a crashed one with
// backoff. When nothing fit answers at NATS_URL / REDIS_URL on loopback it
// starts nats-server (JetStream) and redis-server itself, with data under
// .data/, and stops them on exit. Ctrl-C drains everything and exits 0.
// Nothing it starts outlives it, however it dies (kill -9 included): each
// service follows it over an IPC channel, each server over its stdin. One
// supervisor per directory (.data/supervisor.lock).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { gatewayCommand, readGatewayConfig } from '../gateway/config.ts';
import { producerCommand, readProducerConfig } from '../producer/config.ts';
import { readReceiverConfig, receiverCommand } from '../receiver/config.ts';
import { notifierCommand, readNotifierConfig } from '../receiver/notifier/config.ts';
import { readRulesConfig, rulesCommand } from '../receiver/rules/config.ts';
import { readStoreConfig, storeCommand } from '../receiver/store/config.ts';
import { answerCommandLine, type Command } from './runtime/command.ts';
import { type Env, loadEnv, readConfig } from './runtime/config.ts';
import { createLog, type Log, type LogSettings, readLogSettings } from './runtime/log.ts';

let logSettings: LogSettings = { level: 'info', format: 'text' };
let log: Log = createLog('supervisor');
const root = new URL('..', import.meta.url).pathname;
/**
 * Built (dist/deploy/supervise.js, as `npm start` runs it), it runs the services
 * built beside it; run as TypeScript (the tests), it runs theirs through tsx.
 */
const compiled = import.meta.url.endsWith('.js');
const serviceCommand = (file: string): string[] =>
  compiled
    ? [`${root}${file.replace(/\.ts$/, '.js')}`]
    : ['--import', import.meta.resolve('tsx'), `${root}${file}`];

interface Service {
  name: string;
  file: string;
  child?: ChildProcess;
  restarts: number;
  startedAt: number;
  stopping: boolean;
  exited?: Promise<void>;
}

const COLORS = ['36', '33', '35', '32', '34', '31'];
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** A child's output, each line prefixed with its name (text logs) or as it is (json logs carry it). */
function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    process.stdout.write(`${logSettings.format === 'json' ? '' : prefix}${line}\n`);
  });
}

/** A server's own log lines worth showing: prefixed (text), or wrapped as warnings of that server (json). */
function pipeServerLines(stream: NodeJS.ReadableStream | null, name: string): void {
  if (!stream) return;
  const serverLog = createLog(name, logSettings, (line) => process.stdout.write(line));
  createInterface({ input: stream }).on('line', (line) => {
    if (!serverTrouble(line)) return;
    if (logSettings.format === 'json') serverLog.warn(line);
    else process.stdout.write(`\x1b[90m${name.padEnd(9)}│\x1b[0m ${line}\n`);
  });
}

/** Of the servers' own logs, only what needs an operator: nats [WRN]/[ERR]/[FTL], redis '#' lines. */
const serverTrouble = (line: string) =>
  /\[(WRN|ERR|FTL)\]| # (?!oO0O|Redis version|Configuration loaded|Server initialized)/.test(line);

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: host.replace(/^\[|\]$/g, ''), port, timeout: 1_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function installHint(binary: string): string {
  return `${binary} is not installed: run 'sudo apt-get install -y ${binary}' (or 'npm start' as root, which installs it)`;
}

function hasBinary(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
}

const embedded: { name: string; child: ChildProcess }[] = [];

/**
 * Runs a server so that it stops (SIGTERM) once nobody holds the write end of
 * its stdin: the supervisor and, passed on to them, every service. After the
 * supervisor's death the services drain against a server still up, and the
 * server stops when the last of them is gone. A watcher in the shell that execs
 * the server waits for that end of file; it stops only its own parent (the
 * server, same PID), never a PID reused after a crash.
 */
const FOLLOW_STDIN = [
  'exec 3<&0',
  '( while read -r _ <&3; do :; done',
  '  read -r _ _ _ parent _ </proc/self/stat',
  '  [ "$parent" = $$ ] && kill -TERM $$ ) </dev/null &',
  'exec "$@" 0</dev/null 3<&-',
].join('\n');

async function startEmbedded(
  name: string,
  command: string,
  args: string[],
  host: string,
  port: number,
): Promise<void> {
  if (!hasBinary(command)) {
    log.error(installHint(command));
    process.exit(1);
  }
  const child = spawn('sh', ['-c', FOLLOW_STDIN, name, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  pipeServerLines(child.stdout, name);
  pipeServerLines(child.stderr, name);
  // Nothing is ever written to it; ending it after the server died is no error worth a crash.
  child.stdin?.on('error', () => {});
  embedded.push({ name, child });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await answers(host, port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  log.error(`${command} did not start on ${host}:${port}`);
  await shutdown(1);
}

async function natsHasJetStream(url: URL): Promise<boolean> {
  const nc = await connect({ servers: url.host, timeout: 2_000, maxReconnectAttempts: 0 }).catch(
    () => null,
  );
  if (!nc) return false;
  try {
    await nc.jetstreamManager({ timeout: 2_000 });
    return true;
  } catch {
    return false;
  } finally {
    await nc.close();
  }
}

async function redisIsFit(url: URL): Promise<boolean> {
  const redis = new Redis(url.href, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    const info = await redis.info('server');
    const major = Number(/redis_version:(\d+)\.(\d+)/.exec(info)?.[1] ?? 0);
    const minor = Number(/redis_version:(\d+)\.(\d+)/.exec(info)?.[2] ?? 0);
    // ZADD GT (fold-latest) needs 6.2.
    return major > 6 || (major === 6 && minor >= 2);
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Makes NATS_URL usable: the server there, or one of our own under .data/nats. */
async function provideNats(env: Record<string, string | undefined>): Promise<void> {
  const url = new URL((env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',')[0]!.trim());
  const port = Number(url.port || 4222);
  if (await answers(url.hostname, port)) {
    if (await natsHasJetStream(url)) {
      log.info('using the NATS server already answering (JetStream on)', { url: url.host });
      return;
    }
    if (!LOOPBACK.has(url.hostname)) {
      log.error(
        `NATS at ${url.host} has no JetStream: start it with -js (or 'jetstream: enabled' in its config)`,
      );
      process.exit(1);
    }
    const own = await freePort();
    log.warn(
      `NATS at ${url.host} has no JetStream; starting our own nats-server on 127.0.0.1:${own} instead`,
    );
    url.port = String(own);
    url.hostname = '127.0.0.1';
    env.NATS_URL = url.href;
  } else if (!LOOPBACK.has(url.hostname)) {
    log.warn(`nothing answers at NATS_URL ${url.host} yet; the services will keep trying`);
    return;
  }
  mkdirSync(resolve('.data/nats'), { recursive: true });
  log.info('starting nats-server with JetStream', { port: url.port || 4222, data: '.data/nats' });
  await startEmbedded(
    'nats',
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(url.port || 4222), '-js', '-sd', resolve('.data/nats')],
    '127.0.0.1',
    Number(url.port || 4222),
  );
}

/** Makes REDIS_URL usable: the server there, or one of our own under .data/redis. */
async function provideRedis(env: Record<string, string | undefined>): Promise<void> {
  const url = new URL((env.REDIS_URL ?? 'redis://127.0.0.1:6379').split(',')[0]!.trim());
  const port = Number(url.port || 6379);
  if (await answers(url.hostname, port)) {
    if (await redisIsFit(url)) {
      log.info('using the Redis server already answering', { url: url.host });
      return;
    }
    if (!LOOPBACK.has(url.hostname)) {
      log.error(
        `Redis at ${url.host} is not usable (needs Redis 6.2 or later, and the password in REDIS_URL)`,
      );
      process.exit(1);
    }
    const own = await freePort();
    log.warn(
      `Redis at ${url.host} is not usable; starting our own redis-server on 127.0.0.1:${own} instead`,
    );
    url.port = String(own);
    url.hostname = '127.0.0.1';
    env.REDIS_URL = url.href;
  } else if (!LOOPBACK.has(url.hostname)) {
    log.warn(`nothing answers at REDIS_URL ${url.host} yet; the services will keep trying`);
    return;
  }
  mkdirSync(resolve('.data/redis'), { recursive: true });
  log.info('starting redis-server', { port: url.port || 6379, data: '.data/redis' });
  await startEmbedded(
    'redis',
    'redis-server',
    [
      '--port',
      String(url.port || 6379),
      '--bind',
      '127.0.0.1',
      '--dir',
      resolve('.data/redis'),
      '--appendonly',
      'yes',
      '--save',
      '',
    ],
    '127.0.0.1',
    Number(url.port || 6379),
  );
}

const services: Service[] = [
  { name: 'receiver', file: 'receiver/main.ts', restarts: 0, startedAt: 0, stopping: false },
  { name: 'store', file: 'receiver/store/main.ts', restarts: 0, startedAt: 0, stopping: false },
  { name: 'gateway', file: 'gateway/main.ts', restarts: 0, startedAt: 0, stopping: false },
  { name: 'rules', file: 'receiver/rules/main.ts', restarts: 0, startedAt: 0, stopping: false },
  {
    name: 'notifier',
    file: 'receiver/notifier/main.ts',
    restarts: 0,
    startedAt: 0,
    stopping: false,
  },
  { name: 'producer', file: 'producer/main.ts', restarts: 0, startedAt: 0, stopping: false },
];

function startService(service: Service, env: Env, color: string): void {
  service.startedAt = Date.now();
  service.stopping = false;
  const child = spawn(process.execPath, serviceCommand(service.file), {
    cwd: process.cwd(),
    env: env as NodeJS.ProcessEnv,
    // The IPC channel closes when the supervisor dies, however it dies: the service then
    // drains and exits (deploy/runtime/lifecycle.ts). The servers' stdins keep them up meanwhile.
    stdio: [
      'ignore',
      'pipe',
      'pipe',
      'ipc',
      ...embedded.map((e) => e.child.stdin).filter((stdin) => stdin && !stdin.destroyed),
    ],
    // Its own process group: Ctrl-C reaches the supervisor only, which stops children in order.
    detached: true,
  });
  service.child = child;
  const prefix = `\x1b[${color}m${service.name.padEnd(9)}│\x1b[0m `;
  pipeLines(child.stdout, prefix);
  pipeLines(child.stderr, prefix);
  service.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve();
      if (service.stopping || shuttingDown) return;
      if (code === 2) {
        log.error(`${service.name} refused its configuration (exit 2); stopping`);
        void shutdown(2);
        return;
      }
      // Back off 1 s, 2 s, 4 s … up to 30 s; a service that ran for a minute starts again from 1 s.
      if (Date.now() - service.startedAt > 60_000) service.restarts = 0;
      const delay = Math.min(30_000, 1_000 * 2 ** service.restarts);
      service.restarts++;
      log.warn(
        `${service.name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`,
        {
          restarts: service.restarts,
        },
      );
      setTimeout(() => {
        if (!shuttingDown) startService(service, env, color);
      }, delay).unref();
    });
  });
}

async function stopChild(
  child: ChildProcess | undefined,
  graceMs: number,
  ask: () => void = () => child?.kill('SIGTERM'),
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let shuttingDown = false;
async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    // The producer first (it flushes its spool to a receiver still up), then the rest, then the servers.
    const producer = services.find((s) => s.name === 'producer')!;
    producer.stopping = true;
    await stopChild(producer.child, 10_000);
    await Promise.all(
      services
        .filter((s) => s !== producer)
        .map((s) => {
          s.stopping = true;
          return stopChild(s.child, 15_000);
        }),
    );
    // The services are gone: closing its stdin is the last word each server waits for.
    for (const server of embedded.reverse())
      await stopChild(server.child, 10_000, () => {
        server.child.stdin?.end();
      });
    log.info('all stopped');
  }
  process.exit(code);
}

const LOCK = '.data/supervisor.lock';
let lockHeld = false;

/** Whether `pid` is a running supervisor (not a zombie, not a PID reused by another program). */
function isSupervisor(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('supervise.ts');
  } catch {
    return false;
  }
}

/**
 * One supervisor per directory: a second one would fight the first for its
 * ports and run a second agent for the same host. A lock whose PID no longer
 * runs a supervisor (it was killed with -9, the machine lost power) is stale.
 */
function takeLock(): void {
  mkdirSync('.data', { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(LOCK, `${process.pid}\n`, { flag: 'wx' });
      lockHeld = true;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(LOCK, 'utf8').trim());
    if (isSupervisor(holder)) {
      log.error(
        `loadstar is already running here (supervisor PID ${holder}, ${LOCK}): stop it first (Ctrl-C in its terminal, or kill ${holder})`,
      );
      process.exit(1);
    }
    log.info('a previous supervisor ended without cleaning up: taking over its lock', {
      pid: holder,
    });
    rmSync(LOCK, { force: true });
  }
  throw new Error(`could not take ${LOCK}`);
}

function releaseLock(): void {
  if (!lockHeld) return;
  try {
    if (Number(readFileSync(LOCK, 'utf8').trim()) === process.pid) rmSync(LOCK);
  } catch {
    // Already gone: nothing to release.
  }
}

/** For --help: the supervisor reads the settings of every service it runs. */
const startCommandLine: Command<void> = {
  name: 'start',
  about:
    'runs the whole pipeline on this machine (receiver, storage consumer, rules consumer, notifier, gateway and an agent), with nats-server and redis-server of its own when none fit answer.',
  parse: (s) => {
    for (const command of [
      receiverCommand,
      storeCommand,
      rulesCommand,
      notifierCommand,
      gatewayCommand,
      producerCommand,
    ])
      command.parse(s);
  },
};

async function main(): Promise<void> {
  answerCommandLine(startCommandLine);
  const env = { ...loadEnv() } as Record<string, string | undefined>;
  logSettings = readConfig('supervisor', readLogSettings, env);
  log = createLog('supervisor', logSettings);
  // Check every service's settings before starting anything: one bad line, exit 2.
  readReceiverConfig(env);
  readStoreConfig(env);
  readGatewayConfig(env);
  readRulesConfig(env);
  readNotifierConfig(env);
  readProducerConfig(env);
  takeLock();
  process.on('exit', releaseLock);
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      log.warn(`second ${signal}: killing everything now`);
      for (const s of [...services.map((x) => x.child), ...embedded.map((e) => e.child)])
        s?.kill('SIGKILL');
      process.exit(1);
    }
    stopRequested = true;
    log.info(`${signal}: stopping services`);
    void shutdown(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await provideNats(env);
  await provideRedis(env);
  if (shuttingDown) return;
  services.forEach((service, i) => {
    startService(service, env, COLORS[i % COLORS.length]!);
  });
  log.info('loadstar running: Ctrl-C to stop', {
    receiver: env.RECEIVER_URL ?? 'http://localhost:8090/data',
    gateway: env.WEB_SERVER_URL ?? 'http://localhost:8080/',
    grpc: env.GRPC_URL ?? '127.0.0.1:50051',
  });
}

main().catch((err) => {
  log.error('supervisor failed', { error: (err as Error).message });
  void shutdown(1);
});
