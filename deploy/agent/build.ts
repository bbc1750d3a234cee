// `npm run build:agent [-- --outdir DIR]`: the agent as one file a host runs
// without the repository. esbuild bundles producer/main.ts with everything it
// imports into DIR/loadstar-agent.js (default dist/agent/), for Node 18 and
// later (Debian 12's nodejs); beside it the systemd unit, an env example made
// from .env.example, and a package.json that keeps Node reading it as CommonJS
// inside this repository (whose package.json says "module"). Writes nothing else.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { LEAN_BUNDLE } from '../lean-bundle.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HERE = join(REPO, 'deploy', 'agent');

/** The settings of .env.example an agent reads: its own section, plus these from elsewhere. */
const AGENT_SECTION = '## The agent (producer)';
const ALSO = ['RECEIVER_URL', 'LOG_LEVEL'];

function outDir(args: readonly string[]): string {
  const at = args.indexOf('--outdir');
  if (at >= 0 && args[at + 1]) return resolve(args[at + 1]!);
  if (args.length > 0) {
    process.stderr.write('usage: npm run build:agent [-- --outdir DIR]\n');
    process.exit(2);
  }
  return join(REPO, 'dist', 'agent');
}

/** What --version shows besides the package version: the commit and the day it was built. */
function buildId(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: REPO, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD') || 'no commit';
  const dirty = git('status', '--porcelain', '--', 'producer', 'proto', 'deploy/runtime')
    ? '+changes'
    : '';
  return `${commit}${dirty}, built ${new Date().toISOString().slice(0, 10)}`;
}

/**
 * The agent's part of .env.example: each setting with the comment above it.
 * All commented out but RECEIVER_URL, the one every host must set, so that the
 * unit's own SPOOL_DIR is not overridden by a default meant for a checkout.
 */
export function agentEnvExample(example: string): string {
  const blocks: string[] = [];
  let comments: string[] = [];
  let section = '';
  for (const line of example.split('\n')) {
    if (line.startsWith('## ')) {
      section = line;
      comments = [];
    } else if (/^# ?[A-Z][A-Z0-9_]*=/.test(line) || /^[A-Z][A-Z0-9_]*=/.test(line)) {
      const name = line.replace(/^# ?/, '').split('=')[0]!;
      if (section === AGENT_SECTION || ALSO.includes(name)) {
        const setting = line.startsWith('#') ? line : name === 'RECEIVER_URL' ? line : `# ${line}`;
        blocks.push([...comments, setting].join('\n'));
      }
      comments = [];
    } else if (line.startsWith('#')) {
      comments.push(line);
    } else {
      comments = [];
    }
  }
  return `# loadstar agent settings (/etc/loadstar/agent.env). Real environment variables
# win over this file. Values shown are the defaults; uncomment to change one.
# RECEIVER_URL must name your receiver.

${blocks.join('\n\n')}
`;
}

/**
 * yaml is needed only to read a SOURCES_FILE in YAML, yet an imported module
 * is set up at start: here it is required on first use instead, which keeps
 * its objects out of the memory of every agent that has no such file.
 */
const yamlOnFirstUse: Plugin = {
  name: 'yaml-on-first-use',
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, (args) =>
      args.kind === 'import-statement' ? { path: 'yaml', namespace: 'yaml-on-first-use' } : null,
    );
    build.onLoad({ filter: /.*/, namespace: 'yaml-on-first-use' }, () => ({
      // What deploy/runtime/structured-file.ts uses: parse for the value, the rest for its lines.
      contents: [
        ...['parse', 'parseDocument', 'isAlias', 'isMap', 'isScalar', 'isSeq'].map(
          (name) => `export function ${name}(...args) { return require("yaml").${name}(...args); }`,
        ),
        'export class LineCounter { constructor() { return new (require("yaml").LineCounter)(); } }',
      ].join('\n'),
      resolveDir: REPO,
      loader: 'js',
    }));
  },
};

const dir = outDir(process.argv.slice(2));
mkdirSync(dir, { recursive: true });
const file = join(dir, 'loadstar-agent.js');
const result = await build({
  entryPoints: [join(REPO, 'producer', 'main.ts')],
  outfile: file,
  ...LEAN_BUNDLE,
  target: 'node18',
  // CommonJS: a .js file in a directory without package.json is read as CommonJS by every Node.
  format: 'cjs',
  // Linux hosts never load systeminformation (the agent reads /proc itself):
  // left out, it costs them no memory. Elsewhere the agent says how to add it.
  external: ['systeminformation'],
  plugins: [yamlOnFirstUse],
  banner: {
    js: '#!/usr/bin/env -S node --lite-mode --no-expose-wasm\n// loadstar agent, one file: node loadstar-agent.js --help (README.md: Running the agent on other hosts)',
  },
  define: { LOADSTAR_AGENT_BUILD: JSON.stringify(buildId()) },
  // deploy/runtime/command.ts finds the repository from import.meta.url, which a CommonJS
  // bundle lacks; the one file never asks it (producer/main.ts answers from its own text).
  logOverride: { 'empty-import-meta': 'silent' },
  metafile: true,
});
chmodSync(file, 0o755);
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
copyFileSync(join(HERE, 'loadstar-agent.service'), join(dir, 'loadstar-agent.service'));
writeFileSync(
  join(dir, 'loadstar-agent.env'),
  agentEnvExample(readFileSync(join(REPO, '.env.example'), 'utf8')),
);
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]!]!.bytes;
process.stderr.write(`loadstar: built ${file} (${(bytes / 1024).toFixed(0)} KiB)\n`);
