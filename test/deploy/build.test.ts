// `npm run build`, and what `npm start` runs from it: the services as plain
// JavaScript under dist/, started by node with no TypeScript loader.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { eventually } from '../harness/eventually.ts';
import { getJson, uniqueName } from '../harness/pipeline.ts';
import { childPids, commandLine, REPO, runScript } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { freePort, removeDir } from '../harness/servers.ts';

const ENTRY_POINTS = [
  ['receiver', 'receiver/main.ts'],
  ['store', 'receiver/store/main.ts'],
  ['rules', 'receiver/rules/main.ts'],
  ['notifier', 'receiver/notifier/main.ts'],
  ['gateway', 'gateway/main.ts'],
  ['producer', 'producer/main.ts'],
] as const;

describe('the services built as JavaScript (npm run build)', function () {
  this.timeout(120_000);

  before(() => {
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'deploy/build.ts'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(build.status, build.stderr).to.equal(0);
  });

  it('builds every entry point, and each answers --version run by plain node', () => {
    expect(existsSync(join(REPO, 'dist', '.built'))).to.equal(true);
    for (const [name, file] of ENTRY_POINTS) {
      const run = spawnSync(
        process.execPath,
        [join(REPO, 'dist', file.replace(/\.ts$/, '.js')), '--version'],
        {
          encoding: 'utf8',
        },
      );
      expect(run.status, `${name}: ${run.stderr}`).to.equal(0);
      expect(run.stdout).to.match(new RegExp(`^loadstar ${name} \\d+\\.\\d+\\.\\d+\\n$`));
    }
  });

  it('runs the whole pipeline from dist/ as npm start does: an agent sample reaches the gateway, no process loads tsx', async () => {
    const [r, c, rules, notifier, g, grpc] = await Promise.all(
      Array.from({ length: 6 }, () => freePort()),
    );
    const host = uniqueName('built');
    const gateway = `http://127.0.0.1:${g}/`;
    const supervisor = runScript(
      'deploy/supervise.ts',
      {
        NATS_URL: shared.natsUrl,
        REDIS_URL: shared.redisUrl,
        RECEIVER_URL: `http://127.0.0.1:${r}/data`,
        STORE_URL: `http://127.0.0.1:${c}/`,
        RULES_URL: `http://127.0.0.1:${rules}/`,
        NOTIFIER_URL: `http://127.0.0.1:${notifier}/`,
        WEB_SERVER_URL: gateway,
        GRPC_URL: `127.0.0.1:${grpc}`,
        INTERVAL: '0.2',
        HOST: host,
      },
      [],
      { built: true },
    );
    try {
      await eventually(
        async () => {
          const res = await getJson(`${gateway}api/v1/latest?topics=cpu&host=${host}`);
          expect(res.body?.cpu).to.be.an('object');
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      // What the built gateway reads from its packages' folders and its own only when asked.
      for (const path of [
        'docs',
        'docs/swagger-ui-bundle.js',
        'openapi.json',
        'dashboard/uplot.js',
      ]) {
        const res = await fetch(`${gateway}${path}`);
        expect(res.status, `${path}: ${await res.text()}`).to.equal(200);
      }
      const lines = await Promise.all((await childPids(supervisor.child.pid!)).map(commandLine));
      for (const [, file] of ENTRY_POINTS) {
        const built = `dist/${file.replace(/\.ts$/, '.js')}`;
        expect(
          lines.filter((l) => l.includes(built)),
          built,
        ).to.have.length(1);
      }
      expect(lines.filter((l) => l.includes('tsx'))).to.deep.equal([]);
      supervisor.child.kill('SIGINT');
      expect(await supervisor.exited).to.equal(0);
    } finally {
      supervisor.child.kill('SIGKILL');
      removeDir(supervisor.cwd);
    }
  });
});
