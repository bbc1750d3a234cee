// `npm run build`: the services as JavaScript under dist/, which `npm start` and
// the systemd units run (no compiling at run time). tsc writes each .ts beside
// where it was (receiver/main.ts -> dist/receiver/main.js); the files the code
// reads at run time (Lua scripts, the .proto, the dashboard, package.json,
// .env.example) are copied to the same places, and dist/node_modules points at
// the repository's, so every path a module makes from its own location holds.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(REPO, 'dist');
/** The folders whose code runs as services (test/ stays TypeScript, run by tsx). */
const SOURCES = ['proto', 'producer', 'receiver', 'gateway', 'deploy'];
/** What the code reads at run time besides its modules. */
const ASSETS = new Set(['.lua', '.proto', '.html', '.css', '.js', '.json', '.yaml']);
/** Marks a finished build: `npm start` rebuilds when a source is newer. */
export const BUILT = join(DIST, '.built');

function copyAssets(dir: string): void {
  for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join('deploy', 'agent')) copyAssets(path);
    } else if (ASSETS.has(extname(entry.name))) {
      mkdirSync(join(DIST, dirname(path)), { recursive: true });
      cpSync(join(REPO, path), join(DIST, path));
    }
  }
}

rmSync(BUILT, { force: true });
const tsc = spawnSync(
  process.execPath,
  [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: REPO,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) {
  process.stderr.write('loadstar: tsc could not build the services\n');
  process.exit(1);
}
for (const dir of SOURCES) copyAssets(dir);
for (const file of ['package.json', '.env.example']) cpSync(join(REPO, file), join(DIST, file));
const modules = join(DIST, 'node_modules');
if (!existsSync(modules)) symlinkSync(relative(DIST, join(REPO, 'node_modules')), modules);
writeFileSync(BUILT, `${new Date().toISOString()}\n`);
process.stderr.write(
  `loadstar: built the services into ${relative(process.cwd(), DIST) || 'dist'}/\n`,
);
