// The type checker and the linter are part of the suite, so CI counts them.
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    cwd: new URL('../..', import.meta.url).pathname,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('code checks', function () {
  this.timeout(120_000);

  it('type-checks with strict TypeScript', () => {
    const { status, output } = run('npx', ['--no-install', 'tsc', '-p', '.']);
    expect(status, output).to.equal(0);
  });

  it('passes the linter and formatter (biome)', () => {
    const { status, output } = run('npx', ['--no-install', 'biome', 'check', '.']);
    expect(status, output.slice(-3000)).to.equal(0);
  });
});
