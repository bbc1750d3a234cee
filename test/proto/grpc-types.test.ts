import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COMMITTED = 'proto/generated';

/** The generator's arguments exactly as `npm run grpc-types` passes them, writing into `outDir`. */
function generatorArgs(outDir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const command = pkg.scripts['grpc-types']!.split('&&').at(-1)!.trim().split(/\s+/);
  expect(command[0]).to.equal('proto-loader-gen-types');
  const out = command.indexOf('-O');
  expect(command[out + 1]).to.equal(COMMITTED);
  command[out + 1] = outDir;
  return command.slice(1);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

describe('gRPC types generated from proto/loadstar.proto', () => {
  it('are committed as the generator writes them today (else run `npm run grpc-types`)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'loadstar-grpc-types-'));
    try {
      execFileSync(join(REPO, 'node_modules/.bin/proto-loader-gen-types'), generatorArgs(fresh), {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const committed = join(REPO, COMMITTED);
      const files = filesUnder(fresh);
      expect(files).to.include('loadstar/v1/Loadstar.ts');
      expect(filesUnder(committed), 'files in proto/generated/').to.deep.equal(files);
      for (const file of files) {
        expect(
          readFileSync(join(committed, file), 'utf8'),
          `proto/generated/${file} is stale: run npm run grpc-types`,
        ).to.equal(readFileSync(join(fresh, file), 'utf8'));
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
