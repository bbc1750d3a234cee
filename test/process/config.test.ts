import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { eventually } from '../harness/eventually.ts';
import { runScript } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { freePort, removeDir } from '../harness/servers.ts';

describe('a bad setting stops a service at start', function () {
  this.timeout(30_000);

  for (const [service, file, setting, value, words] of [
    [
      'receiver',
      'receiver/main.ts',
      'RECEIVER_URL',
      'localhost:8090/data',
      'must start with http://',
    ],
    ['store', 'receiver/store/main.ts', 'STORE_IN_FLIGHT', 'many', "'many' is not a number"],
    ['gateway', 'gateway/main.ts', 'GRPC_URL', 'everywhere', 'is not host:port'],
    [
      'gateway',
      'gateway/main.ts',
      'NATS_URL',
      'http://127.0.0.1:4222',
      'must start with nats:// or tls://',
    ],
    [
      'store',
      'receiver/store/main.ts',
      'REDIS_URL',
      'redis-sentinel://127.0.0.1:26379',
      'with the primary they watch',
    ],
    [
      'notifier',
      'receiver/notifier/main.ts',
      'ALERTMANAGER_URLS',
      'am.example:9093',
      'must start with http:// or https://',
    ],
    ['notifier', 'receiver/notifier/main.ts', 'ALERT_RETRY_MAX', 'soon', 'is not a duration'],
    ['producer', 'producer/main.ts', 'INTERVAL', '-1', 'below the minimum'],
    ['producer', 'producer/main.ts', 'HOST', 'my host', 'does not match'],
  ] as const) {
    it(`${service} exits 2 with one line naming ${setting}='${value}'`, async () => {
      const proc = runScript(file, { [setting]: value });
      expect(await proc.exited).to.equal(2);
      const lines = proc.output().trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(`bad setting ${setting}`).and.include(words);
    });
  }
});

/** Every entry point of package.json's scripts, by its npm script name. */
const ENTRY_POINTS = [
  ['receiver', 'receiver/main.ts', 'MAX_HOSTS=10000'],
  ['store', 'receiver/store/main.ts', 'STORE_CHECKPOINT=2s'],
  ['rules', 'receiver/rules/main.ts', 'RULES_URL=http://localhost:8092/'],
  ['notifier', 'receiver/notifier/main.ts', 'NOTIFIER_URL=http://localhost:8093/'],
  ['gateway', 'gateway/main.ts', 'GRPC_URL=127.0.0.1:50051'],
  ['producer', 'producer/main.ts', 'INTERVAL=5'],
  ['tap', 'deploy/tap.ts', 'NATS_URL=nats://127.0.0.1:4222'],
  ['replay', 'receiver/store/replay.ts', 'REDIS_URL=redis://127.0.0.1:6379'],
] as const;

describe('the command line of every entry point', function () {
  this.timeout(60_000);
  const version = (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

  it('runs each script the package names', () => {
    const scripts = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const [name, file] of ENTRY_POINTS) expect(scripts[name], name).to.include(file);
  });

  for (const [name, file, oneSetting] of ENTRY_POINTS) {
    it(`${name} answers --help with what it is and every setting it reads, described, and exits 0`, async () => {
      const proc = runScript(file, {}, ['--help']);
      expect(await proc.exited).to.equal(0);
      const out = proc.output();
      expect(out).to.match(new RegExp(`^loadstar ${name} ${version.replaceAll('.', '\\.')}: \\w`));
      expect(out).to.include('Settings, from .env').and.include(`\n  ${oneSetting}\n      `);
      if (name !== 'tap')
        expect(out).to.include('  LOG_LEVEL=info').and.include('  LOG_FORMAT=text');
      // Each setting it reads is in .env.example, with a comment saying what it is.
      expect(out).to.not.include('not described in .env.example');
    });

    it(`${name} answers --version with the package version and exits 0`, async () => {
      const proc = runScript(file, {}, ['--version']);
      expect(await proc.exited).to.equal(0);
      expect(proc.output()).to.equal(`loadstar ${name} ${version}\n`);
    });
  }

  it('npm start answers --help with the settings of every service it runs, and --version', async () => {
    const help = runScript('deploy/supervise.ts', {}, ['--help']);
    expect(await help.exited).to.equal(0);
    for (const [, , oneSetting] of ENTRY_POINTS.filter(([name]) => name !== 'replay'))
      expect(help.output()).to.include(`\n  ${oneSetting}\n      `);
    expect(help.output()).to.not.include('not described in .env.example');
    const version = runScript('deploy/supervise.ts', {}, ['--version']);
    expect(await version.exited).to.equal(0);
    expect(version.output()).to.match(/^loadstar start \d+\.\d+\.\d+\n$/);
  });

  it('refuses an argument a service does not take with exit 2 and one line', async () => {
    const proc = runScript('receiver/main.ts', {}, ['--port=1']);
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.equal(
      "loadstar receiver: unknown argument '--port=1'; it takes --help or --version\n",
    );
  });
});

describe('LOG_LEVEL and LOG_FORMAT', function () {
  this.timeout(60_000);
  const servers = () => ({ NATS_URL: shared.natsUrl, REDIS_URL: shared.redisUrl });

  for (const [setting, value, words] of [
    ['LOG_LEVEL', 'verbose', "'verbose' is not one of debug, info, warn, error"],
    ['LOG_LEVEL', 'INFO', "'INFO' is not one of debug, info, warn, error"],
    ['LOG_FORMAT', 'xml', "'xml' is not one of text, json"],
  ] as const) {
    it(`stops a service with exit 2 and one line naming ${setting}='${value}'`, async () => {
      const proc = runScript('gateway/main.ts', { ...servers(), [setting]: value });
      expect(await proc.exited).to.equal(2);
      const lines = proc.output().trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.equal(`loadstar gateway: bad setting ${setting}: ${words}`);
    });
  }

  /** Runs the store until it is ready (its URL in `urlSetting`), then stops it; returns what it logged. */
  async function storeOutput(
    env: Record<string, string>,
    dotEnv: string,
    urlSetting = 'STORE_URL',
  ): Promise<string> {
    const port = await freePort();
    const proc = runScript(
      'receiver/store/main.ts',
      { ...servers(), [urlSetting]: `http://127.0.0.1:${port}/`, ...env },
      [],
      { files: { '.env': dotEnv } },
    );
    try {
      await eventually(
        async () => expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).to.equal(200),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      return proc.output();
    } finally {
      proc.child.kill('SIGKILL');
      removeDir(proc.cwd);
    }
  }

  it('takes LOG_LEVEL from .env for a service run alone', async () => {
    const out = await storeOutput({}, 'LOG_LEVEL=warn\n');
    // A clean start and stop logs only info lines: at warn, none of them.
    expect(out).to.not.match(/ INFO /);
    const chatty = await storeOutput({}, 'LOG_LEVEL=debug\n');
    expect(chatty).to.match(/ INFO .*stopped cleanly/);
  });

  it('lets the environment win over .env', async () => {
    const out = await storeOutput({ LOG_LEVEL: 'info' }, 'LOG_LEVEL=error\n');
    expect(out).to.match(/ INFO .*stopped cleanly/);
  });

  it('writes one JSON object per line with time, level, service, msg and the fields when LOG_FORMAT=json', async () => {
    const out = await storeOutput({}, 'LOG_FORMAT=json\n');
    const lines = out.trim().split('\n');
    expect(lines.length).to.be.at.least(3);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of entries) {
      expect(new Date(String(entry.time)).toISOString()).to.equal(entry.time);
      expect(entry.level).to.be.oneOf(['debug', 'info', 'warn', 'error']);
      expect(entry.service).to.equal('store');
      expect(entry.msg).to.be.a('string').and.not.equal('');
    }
    const connected = entries.find((e) => e.msg === 'connected to NATS');
    expect(connected?.server, JSON.stringify(entries)).to.match(/^127\.0\.0\.1:\d+$/);
    expect(entries.at(-1)).to.include({ level: 'info', msg: 'stopped cleanly' });
  });

  it('still reads the store URL from the deprecated CONSUMER_URL, and warns to rename it', async () => {
    const out = await storeOutput({}, '', 'CONSUMER_URL');
    expect(out).to.match(/ WARN .*CONSUMER_URL is deprecated: name the setting STORE_URL instead/);
    expect(out).to.match(/ INFO .*stopped cleanly/);
  });
});
