// Starts real nats-server (JetStream) and redis-server processes on free
// loopback ports, each with its own temporary data dir, and stops them by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';

/** Ports this process has handed out: the kernel may offer a closed one again at once. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface ServerProcess {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir. */
  restart(): Promise<void>;
  pid(): number;
}

async function startServer(
  name: string,
  command: string,
  args: (port: number, dir: string) => string[],
  scheme: string,
  fixed?: { port: number; dir: string },
): Promise<ServerProcess> {
  const port = fixed?.port ?? (await freePort());
  const dir = fixed?.dir ?? mkdtempSync(join(tmpdir(), `loadstar-${name}-`));
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(command, args(port, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await eventually(
      async () => {
        if (exited) throw new Error(`${command} exited at start: ${stderr.slice(-500)}`);
        if (!(await portAnswers(port))) throw new Error(`${command} not answering on ${port} yet`);
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
  };
  await launch();
  const server: ServerProcess = {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    dir,
    get process() {
      return child;
    },
    pid: () => child.pid!,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
    async restart() {
      await server.stop();
      await launch();
    },
  };
  return server;
}

/** What a nats-server asks of its clients; nothing by default. */
export interface NatsAuth {
  /** Every client must log in as this user with `pass` (`--user`, `--pass`). */
  user?: string;
  pass?: string;
  /** Every client must give this token (`--auth`); not together with a user. */
  token?: string;
}

/** A nats-server with JetStream; `url` never holds the credentials, so tests can put right or wrong ones in. */
export function startNats(auth: NatsAuth = {}): Promise<ServerProcess> {
  const login = [
    ...(auth.user !== undefined ? ['--user', auth.user, '--pass', auth.pass ?? ''] : []),
    ...(auth.token !== undefined ? ['--auth', auth.token] : []),
  ];
  return startServer(
    'nats',
    'nats-server',
    (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...login],
    'nats',
  );
}

/** What a redis-server asks of its clients; nothing by default. */
export interface RedisAuth {
  /** The default user's password (`--requirepass`). */
  password?: string;
  /** ACL users, each as a redis.conf `user` line without the word (`alice on >pw ~* &* +@all`). */
  users?: string[];
}

/**
 * A redis-server without persistence; `url` never holds the credentials.
 * `options`: more redis.conf settings as arguments (`--replicaof 127.0.0.1 6379`).
 */
export function startRedis(auth: RedisAuth = {}, options: string[] = []): Promise<ServerProcess> {
  const login = [
    ...(auth.password !== undefined ? ['--requirepass', auth.password] : []),
    ...(auth.users ?? []).flatMap((user) => ['--user', ...user.split(' ')]),
  ];
  return startServer(
    'redis',
    'redis-server',
    (port, dir) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...login,
      ...options,
    ],
    'redis',
  );
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A nats-server without JetStream, as Debian's packaged service runs by default. */
export function startPlainNats(): Promise<ServerProcess> {
  return startServer(
    'nats-plain',
    'nats-server',
    (port) => ['-a', '127.0.0.1', '-p', String(port)],
    'nats',
  );
}
