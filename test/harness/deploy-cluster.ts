// Starts the 3-node NATS cluster and the Redis Cluster from the files of deploy/
// exactly as an operator installs them, only moved to free loopback ports and
// temporary data dirs, so the tests that run on them keep those files honest.
// Stops only what it started, by PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { REPO } from './processes.ts';
import { freePort } from './servers.ts';

export const DEPLOY = join(REPO, 'deploy');

/** Debian puts nats-server and haproxy in /usr/sbin, which a non-root PATH may lack. */
const PATH = `${process.env.PATH}:/usr/sbin`;

export const read = (file: string) => readFileSync(file, 'utf8');

export function has(binary: string): boolean {
  return (
    spawnSync('sh', ['-c', `command -v ${binary}`], { env: { ...process.env, PATH } }).status === 0
  );
}

/** Runs a tool to its end (at most a minute) and returns its exit status and output. */
export function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH },
  });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/** Processes launched here, so that an interrupted run still stops them (by PID). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Launched {
  child: ChildProcess;
  output(): string;
  exited(): Promise<void>;
  stop(): Promise<void>;
}

export function launch(command: string, args: string[]): Launched {
  const child = spawn(command, args, {
    env: { ...process.env, PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const keep = (d: Buffer) => {
    // Only the tail matters (for an error message); servers may log a lot.
    output = (output + d.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', () => running.delete(child));
  return {
    child,
    output: () => output,
    exited: () => exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** How the deploy files name a fixed port: `127.0.0.1:4222`, `port 7000`, `cluster-port 17000`. */
const RELOCATED = /(127\.0\.0\.1:|\bport |cluster-port )(\d+)\b/g;

/**
 * A port found free was taken by another process before the server bound it
 * (nats-server and redis-server both say so in these words).
 */
const portTaken = (err: unknown) => /address already in use/i.test((err as Error).message);

/** Starts servers together: all of them, or none left running and the first failure thrown. */
async function startTogether<T extends DeployedServer>(starts: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  throw failed.reason;
}

/**
 * The deploy files name fixed loopback ports (the layout of deploy/README.md);
 * tests move every one to a free port. `ports` is shared by files that must
 * agree (the three NATS nodes' routes, NATS_URL and the node configs).
 */
export async function relocate(
  text: string,
  ports: Map<number, number>,
  pattern = RELOCATED,
): Promise<string> {
  for (const match of text.matchAll(pattern)) {
    const fixed = Number(match[2]);
    if (!ports.has(fixed)) ports.set(fixed, await freePort());
  }
  return text.replace(pattern, (_, prefix: string, port: string) => {
    return `${prefix}${ports.get(Number(port))}`;
  });
}

/** Replaces `from` by `to`, and fails when the file no longer holds `from` (it changed under the test). */
export function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the file no longer holds '${from}'`);
  return text.replaceAll(from, to);
}

export function portAnswers(port: number): Promise<void> {
  return new Promise((done, fail) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done();
    });
    socket.once('error', () => fail(new Error(`nothing answers on ${port} yet`)));
  });
}

/** One server run from its own config file: killed and started again on the same config, ports and data. */
export class DeployedServer {
  private launched?: Launched;

  constructor(
    readonly name: string,
    /** The port clients use. */
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  /** Starts the process and resolves once its port answers; a start that fails leaves nothing running. */
  async start(): Promise<void> {
    const launched = launch(this.command, this.args);
    this.launched = launched;
    try {
      await eventually(
        async () => {
          if (launched.child.exitCode !== null || launched.child.signalCode !== null) {
            throw new Error(`${this.name} exited: ${launched.output()}`);
          }
          await portAnswers(this.port);
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      );
    } catch (err) {
      await launched.stop();
      throw err;
    }
  }

  pid(): number {
    return this.launched!.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.launched?.child.kill(signal);
  }

  output(): string {
    return this.launched?.output() ?? '';
  }

  exited(): Promise<void> {
    return this.launched?.exited() ?? Promise.resolve();
  }

  stop(): Promise<void> {
    return this.launched?.stop() ?? Promise.resolve();
  }
}

export interface NatsNode extends DeployedServer {
  /** `server_name` of its config: how JetStream names it as a stream's leader or replica. */
  serverName: string;
  url: string;
  /** Its monitoring endpoint (`http:` of the config), e.g. for /jsz. */
  monitorUrl: string;
}

/**
 * Starts the three nodes of deploy/nats/node-{1,2,3}.conf with their store dirs
 * under `dir`; resolves once each accepts connections (JetStream elects its
 * leaders a few seconds later).
 */
export async function startNatsCluster(
  dir: string,
  ports = new Map<number, number>(),
): Promise<NatsNode[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsNodes(dir, ports);
    } catch (err) {
      // The nodes name each other's ports, so all three move. Once only.
      if (attempt === 2 || !portTaken(err)) throw err;
      for (const n of [1, 2, 3]) {
        rmSync(join(dir, `node-${n}`), { recursive: true, force: true });
        for (const match of read(join(DEPLOY, 'nats', `node-${n}.conf`)).matchAll(RELOCATED))
          ports.delete(Number(match[2]));
      }
    }
  }
}

async function startNatsNodes(dir: string, ports: Map<number, number>): Promise<NatsNode[]> {
  const nodes: NatsNode[] = [];
  for (const n of [1, 2, 3]) {
    const source = read(join(DEPLOY, 'nats', `node-${n}.conf`));
    let conf = await relocate(source, ports);
    conf = swap(conf, `/var/lib/nats/node-${n}`, join(dir, `node-${n}`));
    const file = join(dir, `node-${n}.conf`);
    writeFileSync(file, conf);
    const port = Number(/^listen: 127\.0\.0\.1:(\d+)$/m.exec(conf)![1]);
    const monitor = Number(/^http: 127\.0\.0\.1:(\d+)$/m.exec(conf)![1]);
    const node = Object.assign(
      new DeployedServer(`nats node ${n}`, port, 'nats-server', ['-c', file]),
      {
        serverName: /^server_name: (\S+)$/m.exec(conf)![1]!,
        url: `nats://127.0.0.1:${port}`,
        monitorUrl: `http://127.0.0.1:${monitor}/`,
      },
    );
    nodes.push(node);
  }
  return startTogether(nodes.map((node) => node.start().then(() => node)));
}

export interface RedisNode extends DeployedServer {
  url: string;
}

/**
 * Starts the six nodes of deploy/redis-cluster/redis-700{0..5}.conf (with
 * cluster.conf), each with its data dir under `dir`, empty and not yet joined:
 * `createRedisCluster` joins them with create.sh.
 */
export async function startRedisNodes(
  dir: string,
  ports = new Map<number, number>(),
): Promise<RedisNode[]> {
  const include = 'include /etc/redis/loadstar-cluster.conf';
  const startNode = async (fixed: number): Promise<RedisNode> => {
    const data = join(dir, String(fixed));
    let conf = read(join(DEPLOY, 'redis-cluster', `redis-${fixed}.conf`));
    conf = swap(conf, include, `include ${join(DEPLOY, 'redis-cluster', 'cluster.conf')}`);
    conf = swap(conf, `/var/lib/redis/${fixed}`, data);
    conf = swap(conf, `/run/redis-${fixed}/`, `${data}/`);
    conf = await relocate(conf, ports);
    mkdirSync(data, { recursive: true });
    const file = join(dir, `redis-${fixed}.conf`);
    writeFileSync(file, conf);
    const port = ports.get(fixed)!;
    const node = Object.assign(new DeployedServer(`redis ${fixed}`, port, 'redis-server', [file]), {
      url: `redis://127.0.0.1:${port}`,
    });
    await node.start();
    return node;
  };
  const startWithFreshPorts = async (fixed: number): Promise<RedisNode> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startNode(fixed);
      } catch (err) {
        // Its port or its cluster bus port (10000 above) was taken: this node alone moves again.
        if (attempt === 3 || !portTaken(err)) throw err;
        ports.delete(fixed);
        ports.delete(fixed + 10_000);
      }
    }
  };
  return startTogether([7000, 7001, 7002, 7003, 7004, 7005].map(startWithFreshPorts));
}

/** Runs deploy/redis-cluster/create.sh on the nodes, primaries first, as the README says. */
export function createRedisCluster(nodes: RedisNode[]): { status: number | null; output: string } {
  return run(
    join(DEPLOY, 'redis-cluster', 'create.sh'),
    nodes.map((node) => `127.0.0.1:${node.port}`),
  );
}
