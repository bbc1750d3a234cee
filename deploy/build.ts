// `npm run build`: the services as JavaScript under dist/, which `npm start` and
// the systemd units run (no compiling at run time). tsc writes each .ts beside
// where it was (receiver/main.ts -> dist/receiver/main.js); the files the code
// reads at run time (Lua scripts, the .proto, the dashboard, package.json,
// .env.example) are copied to the same places, and dist/node_modules points at
// the repository's, so every path a module makes from its own location holds.
// Then each program a process runs is bundled over its own file, with what it
// imports (packages too): one module to load instead of 300 to 530, which keeps
// about 10 MB less resident in every service (docs/DECISIONS.md).
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
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { LEAN_BUNDLE } from './lean-bundle.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(REPO, 'dist');
/** The folders whose code runs as services (test/ stays TypeScript, run by tsx). */
const SOURCES = ['proto', 'producer', 'receiver', 'gateway', 'deploy'];
/** What the code reads at run time besides its modules. */
const ASSETS = new Set(['.lua', '.proto', '.html', '.css', '.js', '.json', '.yaml']);
/** The programs a process runs (systemd units, `npm start`, operators' commands). */
const PROGRAMS = [
  'receiver/main.ts',
  'receiver/store/main.ts',
  'receiver/store/replay.ts',
  'receiver/rules/main.ts',
  'receiver/notifier/main.ts',
  'gateway/main.ts',
  'producer/main.ts',
  'deploy/supervise.ts',
  'deploy/tap.ts',
];
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

/**
 * A module finds the files it reads (Lua scripts, the .proto, the dashboard) from
 * its own location, import.meta.url; inside a bundle that is the bundle's. Each
 * module's import.meta.url is made its own file's again (assets sit beside it in dist/).
 */
function ownLocation(bundled: string): Plugin {
  return {
    name: 'own-location',
    setup(plugin) {
      plugin.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
        const text = await readFile(path, 'utf8');
        const own = relative(dirname(bundled), join(DIST, relative(REPO, path))).replace(
          /\.ts$/,
          '.js',
        );
        return {
          contents: text.replaceAll(
            'import.meta.url',
            `new URL(${JSON.stringify(own)}, import.meta.url).href`,
          ),
          loader: 'ts',
        };
      });
    },
  };
}

async function bundle(program: string): Promise<void> {
  const outfile = join(DIST, program.replace(/\.ts$/, '.js'));
  await build({
    entryPoints: [join(REPO, program)],
    outfile,
    allowOverwrite: true,
    ...LEAN_BUNDLE,
    format: 'esm',
    target: 'node20',
    // Loaded from dist/node_modules instead: systeminformation only by other systems
    // (Linux hosts read /proc), swagger-ui-dist because it finds its files from its own folder.
    external: ['systeminformation', 'swagger-ui-dist'],
    // The packages are CommonJS: their require() of Node's modules needs one in an ES module.
    banner: {
      js: "import { createRequire as createRequireOfBundle } from 'node:module';\nconst require = createRequireOfBundle(import.meta.url);",
    },
    plugins: [ownLocation(outfile)],
  });
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
for (const program of PROGRAMS) await bundle(program);
for (const file of ['package.json', '.env.example']) cpSync(join(REPO, file), join(DIST, file));
const modules = join(DIST, 'node_modules');
if (!existsSync(modules)) symlinkSync(relative(DIST, join(REPO, 'node_modules')), modules);
writeFileSync(BUILT, `${new Date().toISOString()}\n`);
process.stderr.write(
  `loadstar: built the services into ${relative(process.cwd(), DIST) || 'dist'}/\n`,
);
