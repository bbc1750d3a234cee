// The pipeline as the fault suite runs it: every part its own real process on
// loopback, on fixed ports, so each can be killed, paused, cut off and started
// again exactly as it was. Stops only what it started, by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { eventually } from '../harness/eventually.ts';
import { REPO } from '../harness/processes.ts';
import {
  freePort,
  removeDir,
  type ServerProcess,
  startNats,
  startRedis,
} from '../harness/servers.ts';

const TSX = import.meta.resolve('tsx');

export type PartName = 'agents' | 'receiver' | 'store' | 'gateway' | 'nats-server' | 'redis-server';

/** Group ids that let iptables tell one service's connections from another's. */
const GROUP = { receiver: 47_001, store: 47_002 } as const;

export interface Part {
  /** A PartName, or a copy of one (`receiver-2`) where several run. */
  name: string;
  pid(): number;
  signal(signal: NodeJS.Signals): void;
  /** Waits until it answers again (after a restart or a SIGCONT). */
  ready(): Promise<void>;
  /** Starts it again after it died; resolves when it is ready. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL) and waits for the exit. */
  stop(): Promise<void>;
  exited(): Promise<void>;
}

/** A service (main.ts) or the agents as their own node process, ready once its URL answers 200. */
export class NodePart implements Part {
  private child?: ChildProcess;
  private lines: string[] = [];
  private exitedAt = 0;

  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly env: Record<string, string>,
    private readonly readyUrl: string,
    private readonly cwd: string,
    private readonly gid?: number,
  ) {}

  pid(): number {
    return this.child!.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  tail(): string {
    return this.lines.slice(-20).join('\n');
  }

  async start(): Promise<void> {
    this.spawn();
    await this.ready();
  }

  private spawn(): void {
    const env: Record<string, string> = {
      PATH: `${process.env.PATH}:/usr/sbin`,
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'warn',
      ...this.env,
    };
    this.child = spawn(process.execPath, ['--import', TSX, join(REPO, this.file)], {
      cwd: this.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.gid === undefined ? {} : { gid: this.gid }),
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
      });
    }
    this.child.once('exit', () => {
      this.exitedAt = Date.now();
    });
  }

  /**
   * Resolves once the service answers ready. One that exits on its own meanwhile
   * is started again 2 s later, as its systemd unit does (Restart=always,
   * RestartSec=2s), unless it refused its settings (exit 2): a service exits when
   * JetStream times out at its start, as a new cluster's may on a busy machine.
   */
  async ready(): Promise<void> {
    await eventually(
      async () => {
        const child = this.child!;
        if (child.exitCode !== null || child.signalCode !== null) {
          if (
            child.exitCode !== null &&
            child.exitCode !== 2 &&
            Date.now() - this.exitedAt >= 2_000
          ) {
            this.lines.push(`(exited with ${child.exitCode}: started again, as systemd would)`);
            this.spawn();
          }
          throw new Error(`${this.name} exited: ${this.tail()}`);
        }
        const res = await fetch(this.readyUrl, { signal: AbortSignal.timeout(1_000) });
        if (res.status !== 200) throw new Error(`${this.name} not ready: ${res.status}`);
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  }

  exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await this.exited();
    clearTimeout(timer);
  }
}

class ServerPart implements Part {
  constructor(
    readonly name: PartName,
    private readonly server: ServerProcess,
  ) {}

  pid(): number {
    return this.server.pid();
  }

  signal(signal: NodeJS.Signals): void {
    this.server.process.kill(signal);
  }

  async ready(): Promise<void> {}

  async start(): Promise<void> {
    await this.server.restart();
  }

  stop(): Promise<void> {
    this.server.process.kill('SIGCONT');
    return this.server.stop();
  }

  exited(): Promise<void> {
    const child = this.server.process;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }
}

export interface FaultPipelineOptions {
  agents: number;
  agentEveryMs: number;
}

export class FaultPipeline {
  readonly parts = {} as Record<PartName, Part>;
  readonly dirs: string[] = [];
  nats!: ServerProcess;
  redis!: ServerProcess;
  urls = {} as {
    receiver: string;
    gateway: string;
    grpc: string;
    status: string;
    consumer: string;
  };
  agentsDir!: string;
  private cwd!: string;
  private extra: NodePart[] = [];

  static async start(options: FaultPipelineOptions): Promise<FaultPipeline> {
    const pipeline = new FaultPipeline();
    await pipeline.boot(options);
    return pipeline;
  }

  /** Settings every service gets. */
  settings(): Record<string, string> {
    return {
      NATS_URL: this.nats.url,
      REDIS_URL: this.redis.url,
      RECEIVER_URL: this.urls.receiver,
      WEB_SERVER_URL: this.urls.gateway,
      GRPC_URL: this.urls.grpc,
      STORE_URL: this.urls.consumer,
      STORE_CHECKPOINT: '500ms',
      // Short, so that the "spool replayed after the duplicate window" fault need not wait two minutes.
      STREAM_DUPLICATE_WINDOW: '5s',
    };
  }

  private async boot(options: FaultPipelineOptions): Promise<void> {
    this.cwd = this.tempDir('work');
    this.agentsDir = this.tempDir('agents');
    [this.nats, this.redis] = await Promise.all([startNats(), startRedis()]);
    const [receiver, gateway, grpc, status, consumer] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    this.urls = {
      receiver: `http://127.0.0.1:${receiver}/data`,
      gateway: `http://127.0.0.1:${gateway}/`,
      grpc: `127.0.0.1:${grpc}`,
      status: `http://127.0.0.1:${status}/status`,
      consumer: `http://127.0.0.1:${consumer}/`,
    };
    const env = this.settings();
    this.parts['nats-server'] = new ServerPart('nats-server', this.nats);
    this.parts['redis-server'] = new ServerPart('redis-server', this.redis);
    this.parts.receiver = new NodePart(
      'receiver',
      'receiver/main.ts',
      env,
      `http://127.0.0.1:${receiver}/readyz`,
      this.cwd,
      GROUP.receiver,
    );
    this.parts.store = new NodePart(
      'store',
      'receiver/store/main.ts',
      env,
      `${this.urls.consumer}readyz`,
      this.cwd,
      GROUP.store,
    );
    this.parts.gateway = new NodePart(
      'gateway',
      'gateway/main.ts',
      env,
      `${this.urls.gateway}readyz`,
      this.cwd,
    );
    this.parts.agents = new NodePart(
      'agents',
      'test/faults/agents.ts',
      {
        ...env,
        AGENTS: String(options.agents),
        AGENT_EVERY_MS: String(options.agentEveryMs),
        AGENTS_DIR: this.agentsDir,
        STATUS_URL: this.urls.status,
      },
      this.urls.status,
      this.cwd,
    );
    await this.parts.receiver.start();
    await Promise.all([this.parts.store.start(), this.parts.gateway.start()]);
    await this.parts.agents.start();
  }

  tempDir(purpose: string): string {
    const dir = mkdtempSync(join(tmpdir(), `loadstar-faults-${purpose}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Runs an extra agents process that delivers an old spool again (see the replay fault). */
  async replay(createdLog: string): Promise<{ part: Part; statusUrl: string }> {
    const port = await freePort();
    const part = new NodePart(
      'agents',
      'test/faults/agents.ts',
      {
        ...this.settings(),
        AGENTS_DIR: this.tempDir('replay'),
        REPLAY_FILE: createdLog,
        STATUS_URL: `http://127.0.0.1:${port}/status`,
      },
      `http://127.0.0.1:${port}/status`,
      this.cwd,
    );
    this.extra.push(part);
    await part.start();
    return { part, statusUrl: `http://127.0.0.1:${port}/status` };
  }

  async stopAll(): Promise<void> {
    for (const part of [
      ...this.extra,
      this.parts.agents,
      this.parts.gateway,
      this.parts.store,
      this.parts.receiver,
    ]) {
      await part?.stop();
    }
    await Promise.all([this.nats?.stop(), this.redis?.stop()]);
    for (const dir of [...this.dirs, this.nats?.dir, this.redis?.dir]) if (dir) removeDir(dir);
  }

  /** Whether iptables can cut one process group's connections here (root, and the owner match). */
  static canPartition(): string | null {
    // A rule no process matches (port 9, an unused group), put in and taken out again.
    const probe = dropRule('9', 47_999);
    try {
      execFileSync('iptables', ['-I', ...probe], { stdio: 'pipe' });
      execFileSync('iptables', ['-D', ...probe], { stdio: 'pipe' });
      return null;
    } catch (err) {
      return `iptables cannot cut connections here (${(err as Error).message.split('\n')[0]}): run as root with the iptables package`;
    }
  }

  /** Drops every packet `from` sends to `to`'s port, until the returned heal is called. */
  partition(from: 'receiver' | 'store', to: 'nats-server' | 'redis-server'): () => void {
    const port = String(to === 'nats-server' ? this.nats.port : this.redis.port);
    const rule = dropRule(port, GROUP[from]);
    execFileSync('iptables', ['-I', ...rule]);
    let healed = false;
    return () => {
      if (healed) return;
      healed = true;
      execFileSync('iptables', ['-D', ...rule]);
    };
  }
}

/** The iptables OUTPUT rule dropping what processes of group `gid` send to a loopback port. */
function dropRule(port: string, gid: number): string[] {
  return [
    'OUTPUT',
    '-p',
    'tcp',
    '--dport',
    port,
    '-m',
    'owner',
    '--gid-owner',
    String(gid),
    '-j',
    'DROP',
  ];
}
