import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { gatewayOn, getJson, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { agentNodeFlags, REPO } from '../harness/processes.ts';
import { removeDir } from '../harness/servers.ts';

/** node_modules in `dir` or any directory above it: what Node would find a package in. */
function reachableNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules'))) found.push(join(at, 'node_modules'));
    if (dirname(at) === at) return found;
  }
}

describe('the one-file agent, installed without the repository', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  let built: string;
  let host: string;
  let receiver: RunningReceiver;
  let gateway: RunningGateway;
  let agent: ChildProcess | undefined;
  let output = '';

  const tempDir = (purpose: string) => {
    const dir = mkdtempSync(join(tmpdir(), `loadstar-agent-${purpose}-`));
    dirs.push(dir);
    return dir;
  };
  /** Runs the installed file as a host would: its own directory, no repository, only these settings. */
  const runAgent = (dir: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(dir, 'loadstar-agent.js'), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
    });

  before(() => {
    built = tempDir('build');
    const build = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'deploy/agent/build.ts'), '--outdir', built],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(build.status, build.stderr).to.equal(0);
  });

  after(async () => {
    if (agent?.exitCode === null) agent.kill('SIGKILL');
    await Promise.all([receiver?.stop(), gateway?.stop()]);
    for (const dir of dirs) removeDir(dir);
  });

  it('builds one file, with the unit and an env example beside it', () => {
    for (const file of ['loadstar-agent.js', 'loadstar-agent.service', 'loadstar-agent.env'])
      expect(existsSync(join(built, file)), file).to.equal(true);
    const env = readFileSync(join(built, 'loadstar-agent.env'), 'utf8');
    // The one setting every host must set is live; the others are documented defaults.
    expect(env).to.match(/^RECEIVER_URL=http:\/\/localhost:8090\/data$/m);
    expect(env).to.match(/^# INTERVAL=5$/m);
    expect(env).to.match(/^# SPOOL_DIR=/m);
    expect(env.match(/^[A-Z_]+=/gm)).to.deep.equal(['RECEIVER_URL=']);
  });

  it('has a unit that systemd-analyze verifies without a word', function () {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) this.skip();
    const result = spawnSync(
      'systemd-analyze',
      ['verify', '--man=no', join(built, 'loadstar-agent.service')],
      { encoding: 'utf8' },
    );
    expect(result.stdout + result.stderr).to.equal('');
    expect(result.status).to.equal(0);
  });

  it('answers --version and --help with status 0, and refuses an unknown argument with 2', () => {
    const dir = tempDir('alone');
    copyFileSync(join(built, 'loadstar-agent.js'), join(dir, 'loadstar-agent.js'));
    expect(reachableNodeModules(dir)).to.deep.equal([]);
    const version = runAgent(dir, ['--version']);
    expect(version.status).to.equal(0);
    const { version: packageVersion } = JSON.parse(
      readFileSync(join(REPO, 'package.json'), 'utf8'),
    );
    expect(version.stdout).to.match(new RegExp(`^loadstar-agent ${packageVersion} \\(`));
    const help = runAgent(dir, ['--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('RECEIVER_URL').and.include('INTERVAL');
    const wrong = runAgent(dir, ['--frobnicate']);
    expect(wrong.status).to.equal(2);
    expect(wrong.stderr).to.include("unknown argument '--frobnicate'");
  });

  it('runs from an empty directory with no node_modules anywhere above, and its samples arrive', async () => {
    const dir = tempDir('alone');
    copyFileSync(join(built, 'loadstar-agent.js'), join(dir, 'loadstar-agent.js'));
    expect(reachableNodeModules(dir)).to.deep.equal([]);
    [receiver, gateway] = await Promise.all([receiverOn(), gatewayOn()]);
    host = uniqueName('alone');
    // A YAML sources file: the parser the bundle loads on first use must be there.
    writeFileSync(
      join(dir, 'sources.yaml'),
      'sources:\n  - name: nowhere\n    type: prometheus\n    url: http://127.0.0.1:9/metrics\n    metrics:\n      - { series: node_load1, metric: load.1 }\n',
    );
    const flags = agentNodeFlags();
    expect(flags).to.include('--lite-mode');
    agent = spawn(process.execPath, [...flags, join(dir, 'loadstar-agent.js')], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        RECEIVER_URL: receiver.url.href,
        INTERVAL: '0.5',
        HOST: host,
        SOURCES_FILE: 'sources.yaml',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (d) => {
      output += d;
    });
    agent.stderr!.on('data', (d) => {
      output += d;
    });
    const topics = ['cpu', 'mem', 'disk', 'load.1', 'net.rx_bytes_per_s', 'cpu.user', 'uptime_s'];
    const latest = await eventually(
      async () => {
        const { body } = await getJson(
          `${gateway.url.href}?topics=${topics.join(',')}&host=${host}`,
        );
        for (const topic of topics) expect(body[topic], `${topic} in ${output}`).to.be.a('number');
        return body;
      },
      { timeoutMs: 20_000 },
    );
    expect(latest.cpu).to.be.within(0, 100);
    expect(output).to.include('polling source source=nowhere');
    // Nothing it wrote says it could not find a module, or warned about its flags.
    expect(output).to.not.match(/Cannot find|Warning/);
    agent.kill('SIGTERM');
    const code = await new Promise((resolve) => agent!.once('exit', resolve));
    expect(code).to.equal(0);
    expect(output).to.include('stopped cleanly');
  });
});
