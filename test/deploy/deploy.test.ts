// Checks deploy/ with the tools that will run it, so the files cannot rot: the
// systemd units, the NATS cluster, the Redis Cluster recipe and haproxy, started
// for real on free loopback ports, and the compose file. Stops what it starts, by PID.
import { copyFileSync, cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { parse as parseYaml } from 'yaml';
import { SAMPLES_STREAM } from '../../proto/subjects.ts';
import {
  createRedisCluster,
  DEPLOY,
  type DeployedServer,
  has,
  type Launched,
  launch,
  read,
  relocate,
  run,
  startNatsCluster,
  startRedisNodes,
} from '../harness/deploy-cluster.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { REPO } from '../harness/processes.ts';
import { removeDir } from '../harness/servers.ts';

const UNITS = join(DEPLOY, 'systemd');
const ENV_DIR = join(UNITS, 'env');
const NODE_SERVICES = ['receiver', 'store', 'rules', 'notifier', 'gateway'] as const;

/** A loopback port held by a listener of this process until closed. */
async function holdPort(): Promise<{ port: number; close(): void }> {
  const holder = createNetServer();
  await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
  return { port: (holder.address() as AddressInfo).port, close: () => holder.close() };
}

const envFile = (name: string) => parseEnv(read(join(ENV_DIR, name))) as Record<string, string>;
const portOf = (url: string) => Number(new URL(url).port);

interface ProxiedServer {
  backend: string;
  name: string;
  port: number;
  /** Where haproxy sends its health check, when not to `port`. */
  checkPort?: number;
}

/** The `server` lines of haproxy.cfg, with the backend each belongs to. */
function haproxyServers(text: string): ProxiedServer[] {
  const servers: ProxiedServer[] = [];
  let backend = '';
  for (const line of text.split('\n')) {
    const section = /^(backend|frontend|defaults|global)\s*(\S*)/.exec(line);
    if (section) backend = section[1] === 'backend' ? section[2]! : '';
    const server = /^\s+server (\S+) 127\.0\.0\.1:(\d+)(?:.*\bport (\d+))?/.exec(line);
    if (server && backend) {
      servers.push({
        backend,
        name: server[1]!,
        port: Number(server[2]),
        checkPort: server[3] === undefined ? undefined : Number(server[3]),
      });
    }
  }
  return servers;
}

describe('deploy/: the files an operator installs', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const tempDir = (purpose: string) => {
    const dir = mkdtempSync(join(tmpdir(), `loadstar-deploy-${purpose}-`));
    dirs.push(dir);
    return dir;
  };

  const started: (Launched | DeployedServer)[] = [];
  const start = (command: string, args: string[]) => {
    const launched = launch(command, args);
    started.push(launched);
    return launched;
  };

  after(async () => {
    await Promise.all(started.map((s) => s.stop()));
    for (const dir of dirs) removeDir(dir);
  });

  describe('systemd units', () => {
    const unitFiles = [
      ...NODE_SERVICES.map((s) => `loadstar-${s}@.service`),
      'loadstar-producer.service',
      'loadstar-nats@.service',
      'loadstar.target',
    ];

    it('pass systemd-analyze verify without a single warning', function () {
      if (!has('systemd-analyze')) this.skip();
      // verify resolves ExecStart: the units name Debian's /usr/bin/node. Where
      // node lives elsewhere, copies that name this node are verified instead.
      let dir = UNITS;
      if (!existsSync('/usr/bin/node')) {
        dir = tempDir('units');
        for (const file of unitFiles) {
          writeFileSync(
            join(dir, file),
            read(join(UNITS, file)).replaceAll('/usr/bin/node', process.execPath),
          );
        }
      }
      const instances = unitFiles.map((f) => join(dir, f.replace('@.', '@1.')));
      const result = run('systemd-analyze', ['verify', '--man=no', ...instances]);
      // verify exits 0 on an unknown key or a bad value ("ignoring"), so any word is a failure.
      expect(result.output).to.equal('');
      expect(result.status).to.equal(0);
    });

    it("verifies the drop-in with Debian's own nats-server.service", function () {
      const debian = '/lib/systemd/system/nats-server.service';
      if (!has('systemd-analyze') || !existsSync(debian)) this.skip();
      const dir = tempDir('nats-unit');
      copyFileSync(debian, join(dir, 'nats-server.service'));
      cpSync(join(UNITS, 'nats-server.service.d'), join(dir, 'nats-server.service.d'), {
        recursive: true,
      });
      const result = run('systemd-analyze', [
        'verify',
        '--man=no',
        join(dir, 'nats-server.service'),
      ]);
      expect(result.output).to.equal('');
      expect(result.status).to.equal(0);
    });

    it('run files that exist, restart always, and leave a refused setting (exit 2) down', () => {
      for (const file of unitFiles.filter((f) => f.endsWith('.service'))) {
        const text = read(join(UNITS, file));
        const exec = /^ExecStart=(.+)$/m.exec(text)?.[1] ?? '';
        for (const path of exec.match(/\/opt\/loadstar\/\S+/g) ?? []) {
          // What `npm run build` makes in dist/ comes from the same path's TypeScript.
          const source = path.slice('/opt/loadstar/'.length).replace(/^dist\/(.*)\.js$/, '$1.ts');
          expect(existsSync(join(REPO, source)), `${file}: ${path} (from ${source})`).to.be.true;
        }
        for (const conf of exec.match(/\/etc\/nats\/node-%i\.conf/g) ?? []) {
          for (const n of [1, 2, 3]) {
            expect(existsSync(join(DEPLOY, 'nats', conf.slice(10).replace('%i', String(n))))).to.be
              .true;
          }
        }
        expect(text, file).to.match(/^Restart=always$/m);
        expect(text, file).to.match(/^NoNewPrivileges=yes$/m);
        expect(text, file).to.match(/^ProtectSystem=strict$/m);
        if (file.startsWith('loadstar-') && !file.includes('nats')) {
          expect(text, file).to.match(/^RestartPreventExitStatus=2$/m);
          expect(text, file).to.match(/^User=loadstar$/m);
          // V8 compiles to memory it then runs: this setting would kill node at start.
          expect(text, file).not.to.match(/^MemoryDenyWriteExecute=/m);
        }
      }
    });

    it('have an example settings file for copies 1 and 2 of each service, every setting documented', () => {
      const documented = read(join(REPO, '.env.example'));
      for (const service of NODE_SERVICES) {
        for (const n of [1, 2]) {
          expect(existsSync(join(ENV_DIR, `${service}-${n}.env`)), `${service}-${n}.env`).to.be
            .true;
        }
      }
      for (const file of ['loadstar.env', ...NODE_SERVICES.map((s) => `${s}-1.env`)]) {
        for (const name of Object.keys(envFile(file))) {
          expect(documented, `${file}: ${name}`).to.match(new RegExp(`^#? ?${name}=`, 'm'));
        }
      }
    });
  });

  describe('the settings, the NATS and Redis configs and haproxy agree on ports', () => {
    const shared = envFile('loadstar.env');
    const haproxy = read(join(DEPLOY, 'haproxy', 'haproxy.cfg'));
    const servers = haproxyServers(haproxy);
    const server = (backend: string, name: string) => {
      const found = servers.find((s) => s.backend === backend && s.name === name);
      expect(found, `haproxy backend ${backend}, server ${name}`).not.to.equal(undefined);
      return found!;
    };
    const frontend = (name: string) =>
      Number(
        new RegExp(`frontend ${name}\\n(?:.*\\n)*?\\s*bind 127\\.0\\.0\\.1:(\\d+)`).exec(
          haproxy,
        )?.[1],
      );

    it('haproxy sends to the ports the copies listen on, and listens on the shared ones', () => {
      for (const n of [1, 2]) {
        const receiver = envFile(`receiver-${n}.env`);
        expect(server('receivers', `receiver-${n}`).port).to.equal(portOf(receiver.RECEIVER_URL!));
        const gateway = envFile(`gateway-${n}.env`);
        expect(server('gateways', `gateway-${n}`).port).to.equal(portOf(gateway.WEB_SERVER_URL!));
        // gRPC is checked on the same copy's HTTP port.
        expect(server('grpc', `gateway-${n}`)).to.deep.include({
          port: Number(gateway.GRPC_URL!.split(':')[1]),
          checkPort: portOf(gateway.WEB_SERVER_URL!),
        });
      }
      expect(frontend('receivers')).to.equal(portOf(shared.RECEIVER_URL!));
      expect(frontend('gateways')).to.equal(portOf(shared.WEB_SERVER_URL!));
      expect(frontend('grpc')).to.equal(Number(shared.GRPC_URL!.split(':')[1]));
    });

    it('NATS_URL names the three nodes and REDIS_URL the six Redis nodes', () => {
      const natsPorts = [1, 2, 3].map((n) =>
        Number(
          /^listen: 127\.0\.0\.1:(\d+)$/m.exec(read(join(DEPLOY, 'nats', `node-${n}.conf`)))?.[1],
        ),
      );
      expect(shared.NATS_URL!.split(',').map(portOf)).to.deep.equal(natsPorts);
      expect(shared.NATS_REPLICAS).to.equal('3');
      const redisPorts = [0, 1, 2, 3, 4, 5].map((n) =>
        Number(
          /^port (\d+)$/m.exec(read(join(DEPLOY, 'redis-cluster', `redis-700${n}.conf`)))?.[1],
        ),
      );
      expect(shared.REDIS_URL!.split(',').map(portOf)).to.deep.equal(redisPorts);
    });
  });

  describe('a NATS cluster and a Redis Cluster from the configs, with loadstar on them', () => {
    const natsPorts = new Map<number, number>();
    const redisPorts = new Map<number, number>();
    const natsUrls: string[] = [];
    const redisUrls: string[] = [];
    const connections: NatsConnection[] = [];

    before(function () {
      if (!has('nats-server') || !has('redis-server') || !has('redis-cli')) this.skip();
    });
    after(async () => {
      await Promise.all(connections.map((nc) => nc.close()));
    });

    it('nats-server -t accepts each node config and the single-server config', () => {
      for (const file of ['node-1.conf', 'node-2.conf', 'node-3.conf', 'nats-server.conf']) {
        const result = run('nats-server', ['-t', '-c', join(DEPLOY, 'nats', file)]);
        expect(result.output, file).to.include('is valid');
        expect(result.status, file).to.equal(0);
      }
    });

    it('starts 3 NATS nodes that elect a JetStream leader and keep a stream on all three', async () => {
      // A port found free and taken by another process before the bind (seen in CI)
      // moves the cluster to other ports instead of failing it.
      const taken = await holdPort();
      natsPorts.set(6223, taken.port);
      const nodes = await startNatsCluster(tempDir('nats'), natsPorts).finally(() => taken.close());
      started.push(...nodes);
      expect(natsPorts.get(6223)).to.not.equal(taken.port);
      natsUrls.push(...nodes.map((node) => node.url));
      // Every node answers JetStream requests once the cluster has a meta leader.
      for (const url of natsUrls) {
        const nc = await eventually(() => connect({ servers: new URL(url).host, timeout: 1_000 }), {
          timeoutMs: 15_000,
          intervalMs: 200,
        });
        connections.push(nc);
      }
      const stream = uniqueName('DEPLOY').replace('-', '_');
      await eventually(
        async () => {
          const jsm = await connections[0]!.jetstreamManager();
          await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: 3 });
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${nodes.map((n) => n.output()).join('\n')}`);
      });
      await connections[1]!.jetstream().publish(`${stream}.one`, new TextEncoder().encode('1'));
      await eventually(
        async () => {
          const info = await (await connections[2]!.jetstreamManager()).streams.info(stream);
          expect(info.state.messages).to.equal(1);
          expect(info.cluster?.leader).to.be.a('string');
          expect(info.cluster?.replicas?.map((r) => r.current)).to.deep.equal([true, true]);
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
    });

    it('forms a Redis Cluster of 3 primaries and 3 replicas with create.sh, once', async () => {
      // A cluster bus port (the client port + 10000) taken before the bind, as seen in CI.
      const taken = await holdPort();
      redisPorts.set(17005, taken.port);
      const nodes = await startRedisNodes(tempDir('redis'), redisPorts).finally(() =>
        taken.close(),
      );
      started.push(...nodes);
      expect(redisPorts.get(17005)).to.not.equal(taken.port);
      redisUrls.push(...nodes.map((node) => node.url));
      const created = createRedisCluster(nodes);
      expect(created.status, created.output).to.equal(0);
      expect(created.output).to.include('Redis Cluster ready');
      for (const node of nodes) {
        const info = run('redis-cli', ['-p', String(node.port), 'cluster', 'info']).output;
        expect(info).to.include('cluster_state:ok');
        expect(info).to.match(/cluster_size:3\b/);
        expect(info).to.match(/cluster_known_nodes:6\b/);
      }
      const again = createRedisCluster(nodes);
      expect(again.status, again.output).to.equal(0);
      expect(again.output).to.include('nothing to do');
    });

    it('takes a sample through a receiver and a gateway set up by loadstar.env, R3 in NATS', async function () {
      if (natsUrls.length < 3 || redisUrls.length < 6) this.skip();
      // The shared settings file as an operator installs it, its servers moved with the test's ports.
      const settings = envFile('loadstar.env');
      const overrides = {
        ...settings,
        NATS_URL: await relocate(settings.NATS_URL!, natsPorts),
        REDIS_URL: await relocate(settings.REDIS_URL!, redisPorts),
        RECEIVER_URL: 'http://127.0.0.1:0/data',
        WEB_SERVER_URL: 'http://127.0.0.1:0/',
        GRPC_URL: '127.0.0.1:0',
        LOG_LEVEL: 'warn',
      };
      const receiver = await receiverOn(overrides);
      const gateway = await gatewayOn(overrides);
      try {
        const host = uniqueName('deploy');
        const posted = await postSample(
          receiver.url,
          { cpu: 12.5, mem: 40 },
          {
            'Loadstar-Host': host,
          },
        );
        expect(posted.status, JSON.stringify(posted.body)).to.equal(200);
        const latest = await getJson(new URL(`?topics=cpu,mem&host=${host}`, gateway.url));
        expect(latest.text).to.equal('{"cpu":12.5,"mem":40.0}');
        const jsm = await connections[0]!.jetstreamManager();
        expect((await jsm.streams.info(SAMPLES_STREAM)).config.num_replicas).to.equal(3);
        const cluster = new Cluster([{ host: '127.0.0.1', port: portOf(redisUrls[0]!) }]);
        try {
          expect(await cluster.exists(`ls:{${host}}:latest`)).to.equal(1);
        } finally {
          cluster.disconnect();
        }
      } finally {
        await Promise.all([receiver.stop(), gateway.stop()]);
      }
    });
  });

  describe('haproxy in front of the receivers', () => {
    const cfg = join(DEPLOY, 'haproxy', 'haproxy.cfg');
    const standIns: Server[] = [];
    before(function () {
      if (!has('haproxy')) this.skip();
    });
    after(async () => {
      await Promise.all(standIns.map((s) => new Promise((done) => s.close(done))));
    });

    it('haproxy -c accepts the config', () => {
      const result = run('haproxy', ['-c', '-f', cfg]);
      expect(result.output).to.include('Configuration file is valid');
      expect(result.status).to.equal(0);
    });

    it('sends posts only to receivers whose /readyz answers 200, and takes one back once ready', async () => {
      // Two stand-in receivers: the config's health checks are under test, not the receiver.
      const ready = { 'receiver-1': true, 'receiver-2': false };
      const ports = new Map<number, number>();
      let text = await relocate(read(cfg), ports);
      // The workers' user and the admin socket belong to the system's haproxy, not to a test.
      text = text.replace(/^\s*(user|group|stats socket) .*$/gm, '');
      for (const name of ['receiver-1', 'receiver-2'] as const) {
        const fixed = haproxyServers(read(cfg)).find((s) => s.name === name)!.port;
        const server = createServer((req, res) => {
          req.resume();
          const isReady = ready[name];
          res.writeHead(req.url === '/readyz' && !isReady ? 503 : 200, {
            'content-type': 'application/json',
          });
          res.end(JSON.stringify({ by: name }));
        });
        standIns.push(server);
        await new Promise<void>((done) => server.listen(ports.get(fixed), '127.0.0.1', done));
      }
      const dir = tempDir('haproxy');
      writeFileSync(join(dir, 'haproxy.cfg'), text);
      const proxy = start('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
      const front = `http://127.0.0.1:${ports.get(8090)}/data`;
      const stats = `http://127.0.0.1:${ports.get(8404)}/;csv`;
      const states = async () => {
        const csv = await (await fetch(stats)).text();
        const [header, ...rows] = csv.split('\n').map((l) => l.split(','));
        const status = header!.indexOf('status');
        return Object.fromEntries(
          rows.filter((r) => r[0] === 'receivers').map((r) => [r[1], r[status]]),
        );
      };
      const postedBy = async () => {
        const res = await fetch(front, { method: 'POST', body: '{"cpu":1.0}' });
        return ((await res.json()) as { by: string }).by;
      };
      await eventually(
        async () => {
          expect(proxy.child.exitCode, proxy.output()).to.equal(null);
          expect(await states()).to.deep.include({ 'receiver-1': 'UP', 'receiver-2': 'DOWN' });
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      const by = [];
      for (let i = 0; i < 10; i++) by.push(await postedBy());
      expect(new Set(by)).to.deep.equal(new Set(['receiver-1']));

      ready['receiver-2'] = true;
      await eventually(
        async () => {
          expect(await states()).to.deep.include({ 'receiver-1': 'UP', 'receiver-2': 'UP' });
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      const seen = new Set<string>();
      for (let i = 0; i < 20 && seen.size < 2; i++) seen.add(await postedBy());
      expect(seen).to.deep.equal(new Set(['receiver-1', 'receiver-2']));
      await proxy.stop();
    });
  });

  describe('the compose file (one-host demo)', () => {
    const composeFile = join(DEPLOY, 'compose.yaml');
    // biome-ignore lint/suspicious/noExplicitAny: compose YAML is free-form; each field read is checked below.
    const compose: any = parseYaml(read(composeFile), { merge: true });
    const services = Object.entries(compose.services as Record<string, Record<string, unknown>>);

    it('parses, and every file it mounts or reads exists', () => {
      expect(services.length).to.be.greaterThan(10);
      const base = dirname(composeFile);
      for (const [name, service] of services) {
        for (const volume of (service.volumes as string[] | undefined) ?? []) {
          const source = volume.split(':')[0]!;
          if (source.startsWith('.') || source.startsWith('/')) {
            expect(existsSync(resolve(base, source)), `${name}: ${source}`).to.be.true;
          } else {
            expect(compose.volumes, `${name}: volume ${source}`).to.have.property(source);
          }
        }
        for (const file of (service.env_file as string[] | undefined) ?? []) {
          expect(existsSync(resolve(base, file)), `${name}: ${file}`).to.be.true;
        }
        const dependsOn = service.depends_on ?? [];
        for (const other of Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn)) {
          expect(compose.services, `${name} depends on ${other}`).to.have.property(other);
        }
      }
    });

    it('runs the repo files of this checkout, all on the host network the configs assume', () => {
      const base = dirname(composeFile);
      for (const [name, service] of services) {
        expect(service.network_mode, name).to.equal('host');
        expect(service.image, name).to.match(/:[0-9]/);
        const command = (service.command as string[] | undefined) ?? [];
        if (command[0] !== 'node') continue;
        const mount = ((service.volumes as string[]) ?? []).find((v) =>
          v.endsWith(':/opt/loadstar:ro'),
        );
        expect(mount, `${name} mounts the checkout`).to.be.a('string');
        expect(resolve(base, mount!.split(':')[0]!)).to.equal(resolve(REPO));
        expect(service.working_dir).to.equal('/opt/loadstar');
        expect(existsSync(join(REPO, command.at(-1)!)), `${name}: ${command.at(-1)}`).to.be.true;
      }
    });
  });
});
