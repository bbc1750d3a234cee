// The type checker and the linter are part of the suite, so CI counts them, and
// so is the layout's one rule: proto/ holds contracts, deploy/runtime/ the shared
// runtime, and neither reaches into a service.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { expect } from 'chai';

const ROOT = new URL('../..', import.meta.url).pathname;
const SERVICES = ['producer/', 'receiver/', 'gateway/'];

/** Each relative import of the TypeScript files under `dir`: the file, what it names, whether only types. */
function imports(dir: string): { file: string; target: string; typeOnly: boolean }[] {
  const found: { file: string; target: string; typeOnly: boolean }[] = [];
  for (const file of run('git', ['ls-files', '--', `${dir}/*.ts`]).output.split('\n')) {
    if (!file) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/^(import|export)( type)?[^;]*?from '(\.[^']+)'/gms)) {
      found.push({ file, target: normalize(join(dirname(file), m[3]!)), typeOnly: !!m[2] });
    }
  }
  return found;
}

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

  it('keeps proto/ to contracts: what it takes from the shared runtime is types only', () => {
    const reached = imports('proto').filter(
      (i) =>
        !i.target.startsWith('proto/') && !(i.typeOnly && i.target.startsWith('deploy/runtime/')),
    );
    expect(reached).to.deep.equal([]);
  });

  it('keeps the shared runtime (deploy/runtime/) free of any one service', () => {
    const reached = imports('deploy/runtime').filter((i) =>
      SERVICES.some((s) => i.target.startsWith(s)),
    );
    expect(reached).to.deep.equal([]);
  });
});
