// The pipeline as the cluster test runs it: the 3-node NATS cluster and the
// Redis Cluster of deploy/, two copies of the receiver, the storage consumer and
// the gateway set up by deploy/systemd/env, and simulated agents posting to both
// receivers. Every part is a real process on loopback that can be killed and
// started again exactly as it was. Stops only what it started, by PID.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { NodePart } from '../faults/pipeline.ts';
import {
  createRedisCluster,
  DEPLOY,
  type NatsNode,
  type RedisNode,
  read,
  relocate,
  startNatsCluster,
  startRedisNodes,
} from '../harness/deploy-cluster.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort, removeDir } from '../harness/servers.ts';

const ENV_DIR = join(DEPLOY, 'systemd', 'env');
const COPIES = [1, 2] as const;

export interface ClusterPipelineOptions {
  agents: number;
  agentEveryMs: number;
  /** Settings every service gets on top of deploy's (to measure the effect of one). */
  settings?: Record<string, string>;
}

export class ClusterPipeline {
  nats: NatsNode[] = [];
  redis: RedisNode[] = [];
  receivers: NodePart[] = [];
  consumers: NodePart[] = [];
  gateways: NodePart[] = [];
  agents!: NodePart;
  urls = { receivers: [] as string[], gateways: [] as string[], grpc: [] as string[], status: '' };
  agentsDir = '';
  /** Settings every service shares: deploy/systemd/env/loadstar.env, moved to the test's ports. */
  shared: Record<string, string> = {};
  private readonly dirs: string[] = [];
  /** One deploy port (4222, 7000, 8190 …) to the free port that stands for it here. */
  private readonly ports = new Map<number, number>();

  static async start(options: ClusterPipelineOptions): Promise<ClusterPipeline> {
    const pipeline = new ClusterPipeline();
    try {
      await pipeline.boot(options);
    } catch (err) {
      await pipeline.stopAll();
      throw err;
    }
    return pipeline;
  }

  private tempDir(purpose: string): string {
    const dir = mkdtempSync(join(tmpdir(), `loadstar-cluster-${purpose}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** A settings file of deploy/systemd/env, its ports moved like the servers'. */
  private async envFile(name: string): Promise<Record<string, string>> {
    const settings = parseEnv(read(join(ENV_DIR, name))) as Record<string, string>;
    const moved: Record<string, string> = {};
    for (const [key, value] of Object.entries(settings)) {
      moved[key] = await relocate(value, this.ports);
    }
    return moved;
  }

  private async boot(options: ClusterPipelineOptions): Promise<void> {
    const cwd = this.tempDir('work');
    this.agentsDir = this.tempDir('agents');
    this.nats = await startNatsCluster(this.tempDir('nats'), this.ports);
    this.redis = await startRedisNodes(this.tempDir('redis'), this.ports);
    const created = createRedisCluster(this.redis);
    if (created.status !== 0) throw new Error(`create.sh failed: ${created.output}`);
    await this.jetStreamPlacesStreams();

    this.shared = {
      ...(await this.envFile('loadstar.env')),
      LOG_LEVEL: 'warn',
      // Redis's folded position is recorded often, as in the fault suite.
      STORE_CHECKPOINT: '500ms',
      ...options.settings,
    };
    for (const n of COPIES) {
      const receiver = { ...this.shared, ...(await this.envFile(`receiver-${n}.env`)) };
      this.urls.receivers.push(receiver.RECEIVER_URL!);
      this.receivers.push(
        new NodePart(
          `receiver-${n}`,
          'receiver/main.ts',
          receiver,
          new URL('/readyz', receiver.RECEIVER_URL).href,
          cwd,
        ),
      );
      const consumer = { ...this.shared, ...(await this.envFile(`store-${n}.env`)) };
      this.consumers.push(
        new NodePart(
          `store-${n}`,
          'receiver/store/main.ts',
          consumer,
          new URL('readyz', consumer.STORE_URL).href,
          cwd,
        ),
      );
      const gateway = { ...this.shared, ...(await this.envFile(`gateway-${n}.env`)) };
      this.urls.gateways.push(gateway.WEB_SERVER_URL!);
      this.urls.grpc.push(gateway.GRPC_URL!);
      this.gateways.push(
        new NodePart(
          `gateway-${n}`,
          'gateway/main.ts',
          gateway,
          new URL('readyz', gateway.WEB_SERVER_URL).href,
          cwd,
        ),
      );
    }
    this.urls.status = `http://127.0.0.1:${await freePort()}/status`;
    this.agents = new NodePart(
      'agents',
      'test/faults/agents.ts',
      {
        ...this.shared,
        AGENTS: String(options.agents),
        AGENT_EVERY_MS: String(options.agentEveryMs),
        AGENTS_DIR: this.agentsDir,
        STATUS_URL: this.urls.status,
        // Each agent lists both receivers and fails over between them (deploy/README.md).
        RECEIVER_URL: this.urls.receivers.join(','),
      },
      this.urls.status,
      cwd,
    );
    await Promise.all(this.receivers.map((r) => r.start()));
    await Promise.all([...this.consumers, ...this.gateways].map((part) => part.start()));
    await this.agents.start();
  }

  /**
   * Waits until the new cluster can create a stream on all three nodes. The
   * services create theirs at start and exit when JetStream answers a timeout
   * (systemd would start them again 2 s later; here they start once it is ready).
   */
  private async jetStreamPlacesStreams(): Promise<void> {
    const nc = await connect({ servers: this.nats.map((n) => new URL(n.url).host) });
    try {
      await eventually(
        async () => {
          const jsm = await nc.jetstreamManager({ timeout: 2_000 });
          await jsm.streams.add({ name: 'WARMUP', subjects: ['warmup'], num_replicas: 3 });
          await jsm.streams.delete('WARMUP');
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      await nc.close();
    }
  }

  natsNode(serverName: string): NatsNode {
    const node = this.nats.find((n) => n.serverName === serverName);
    if (!node) throw new Error(`no NATS node is named ${serverName}`);
    return node;
  }

  /**
   * The Redis primary that serves `key` now, as the nodes other than `except`
   * see it (a killed node's own view is gone with it).
   */
  async redisPrimaryOf(key: string, except?: RedisNode): Promise<RedisNode> {
    const asked = this.redis.find((n) => n !== except)!;
    const client = new Redis({ port: asked.port, host: '127.0.0.1', lazyConnect: true });
    try {
      await client.connect();
      const slot = Number(await client.cluster('KEYSLOT', key));
      const nodes = String(await client.cluster('NODES'));
      for (const line of nodes.trim().split('\n')) {
        const [, address, flags, , , , , , ...slots] = line.split(' ');
        if (!flags?.includes('master') || flags.includes('fail')) continue;
        const serves = slots.some((range) => {
          const [from, to] = range.split('-').map(Number);
          return slot >= from! && slot <= (to ?? from)!;
        });
        if (!serves) continue;
        const port = Number(address!.split('@')[0]!.split(':')[1]);
        const node = this.redis.find((n) => n.port === port);
        if (node) return node;
      }
      throw new Error(`no live primary serves slot ${slot} (${key}) yet`);
    } finally {
      client.disconnect();
    }
  }

  async stopAll(): Promise<void> {
    for (const part of [this.agents, ...this.gateways, ...this.consumers, ...this.receivers]) {
      await part?.stop();
    }
    await Promise.all([...this.nats, ...this.redis].map((server) => server.stop()));
    for (const dir of this.dirs) removeDir(dir);
  }
}
