// Whether every copy of the data agrees: the samples stream on all three NATS
// nodes, each Redis primary and its replica, and the two gateways' answers.
// The agents keep posting meanwhile, so no two copies can be read at the same
// instant: a copy agrees once it holds at least what its leader (or primary, or
// the other gateway) held when read just before it.
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { SAMPLES_STREAM } from '../../proto/subjects.ts';
import type { ClusterPipeline } from './pipeline.ts';

interface Jsz {
  account_details?: {
    stream_detail?: { name: string; state: { last_seq: number } }[];
  }[];
}

interface HostsAnswer {
  hosts: { host: string; samples: number; last_seen_ms: number }[];
}

const TIMEOUT_MS = 2_000;

function fields(info: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) map.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return map;
}

export class Agreement {
  /** One connection per Redis node, failing fast while the node is down. */
  private readonly nodes: { port: number; client: Redis }[];

  constructor(
    private readonly pipeline: ClusterPipeline,
    private readonly nc: NatsConnection,
    private readonly hosts: string[],
  ) {
    this.nodes = pipeline.redis.map((node) => {
      const client = new Redis({
        host: '127.0.0.1',
        port: node.port,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: TIMEOUT_MS,
        commandTimeout: TIMEOUT_MS,
        retryStrategy: () => 200,
      });
      // A killed node refuses connections until it is back: that is a disagreement, not an error.
      client.on('error', () => {});
      return { port: node.port, client };
    });
  }

  close(): void {
    for (const { client } of this.nodes) client.disconnect();
  }

  /** Resolves when every copy agrees; otherwise throws naming the first that does not. */
  async check(): Promise<void> {
    await this.streamCopies();
    await this.redisCopies();
    await this.gatewayAnswers();
  }

  /** The samples stream: both replicas current, and each node's own store holding the leader's last message. */
  private async streamCopies(): Promise<void> {
    const jsm = await this.nc.jetstreamManager({ timeout: TIMEOUT_MS });
    const info = await jsm.streams.info(SAMPLES_STREAM);
    const replicas = info.cluster?.replicas ?? [];
    if (!info.cluster?.leader) throw new Error('the samples stream has no leader');
    if (replicas.length !== 2 || replicas.some((r) => !r.current || r.offline)) {
      throw new Error(`stream replicas not all current: ${JSON.stringify(replicas)}`);
    }
    const last = info.state.last_seq;
    for (const node of this.pipeline.nats) {
      const jsz = (await (
        await fetch(`${node.monitorUrl}jsz?accounts=true&streams=true`, {
          signal: AbortSignal.timeout(TIMEOUT_MS),
        })
      ).json()) as Jsz;
      const stream = jsz.account_details
        ?.flatMap((a) => a.stream_detail ?? [])
        .find((s) => s.name === SAMPLES_STREAM);
      const held = stream?.state.last_seq ?? 0;
      if (held < last) throw new Error(`${node.name} holds the stream up to ${held} of ${last}`);
    }
  }

  /** Three primaries each with one replica online, every node ok, each replica at its primary's offset. */
  private async redisCopies(): Promise<void> {
    const infos = await Promise.all(
      this.nodes.map(async ({ port, client }) => {
        const [replication, cluster] = await Promise.all([
          client.info('replication'),
          client.cluster('INFO') as Promise<string>,
        ]);
        return { port, replication: fields(replication), cluster: fields(cluster) };
      }),
    );
    for (const { port, cluster } of infos) {
      if (cluster.get('cluster_state') !== 'ok') throw new Error(`redis ${port}: cluster not ok`);
    }
    const primaries = infos.filter((i) => i.replication.get('role') === 'master');
    if (primaries.length !== 3) {
      throw new Error(`${primaries.length} primaries (${primaries.map((p) => p.port)}), not 3`);
    }
    for (const primary of primaries) {
      const replica = primary.replication.get('slave0') ?? '';
      if (
        primary.replication.get('connected_slaves') !== '1' ||
        !replica.includes('state=online')
      ) {
        throw new Error(`redis ${primary.port}: no replica online (${replica || 'none'})`);
      }
    }
    // Read again, after the primaries' offsets above: each replica must have reached them.
    for (const primary of primaries) {
      const offset = Number(primary.replication.get('master_repl_offset'));
      const replicaPort = Number(/port=(\d+)/.exec(primary.replication.get('slave0')!)![1]);
      const replica = this.nodes.find((n) => n.port === replicaPort);
      if (!replica)
        throw new Error(`redis ${primary.port}: its replica ${replicaPort} is not ours`);
      const now = fields(await replica.client.info('replication'));
      if (now.get('master_link_status') !== 'up') {
        throw new Error(
          `redis ${replicaPort}: link to its primary is ${now.get('master_link_status')}`,
        );
      }
      const reached = Number(now.get('slave_repl_offset'));
      if (reached < offset) {
        throw new Error(`redis ${replicaPort}: at offset ${reached}, its primary was at ${offset}`);
      }
    }
  }

  /** Both gateways give the same hosts the same counts and last-seen times (or the later read a later one). */
  private async gatewayAnswers(): Promise<void> {
    const [first, second] = this.pipeline.urls.gateways;
    const ask = async (base: string) => {
      const res = await fetch(new URL('api/v1/hosts', base), {
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (res.status !== 200) throw new Error(`${base} answered ${res.status}`);
      const body = (await res.json()) as HostsAnswer;
      return new Map(body.hosts.map((h) => [h.host, h]));
    };
    const before = await ask(first!);
    const other = await ask(second!);
    const after = await ask(first!);
    for (const host of this.hosts) {
      const [a, b, c] = [before.get(host), other.get(host), after.get(host)];
      if (!a || !b || !c) throw new Error(`a gateway does not list ${host}`);
      const between = (key: 'samples' | 'last_seen_ms') => a[key] <= b[key] && b[key] <= c[key];
      if (!between('samples') || !between('last_seen_ms')) {
        throw new Error(
          `gateways disagree on ${host}: ${JSON.stringify(a)} / ${JSON.stringify(b)} / ${JSON.stringify(c)}`,
        );
      }
    }
  }
}
