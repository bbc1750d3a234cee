// What every entry point does before anything starts: --help says what the
// command is and lists the settings it reads, as .env.example documents them;
// --version names the package version; both exit 0. An argument the command
// does not take stops it with exit status 2. Then its settings are parsed, and
// under `npm start` it follows its supervisor (deploy/runtime/lifecycle.ts).
import { readFileSync } from 'node:fs';
import { readConfig, Settings } from './config.ts';
import { followSupervisor } from './lifecycle.ts';

export interface Command<T> {
  /** Its npm script, the name in its messages: `receiver`, `replay`. */
  name: string;
  /** What it is, in a sentence or two. */
  about: string;
  /** Arguments it takes besides --help and --version (`[--from <stream position>]`); none when absent. */
  usage?: string;
  /** Its settings, checked; the same parser `readConfig` runs. */
  parse: (settings: Settings) => T;
}

/** The repository, found when asked: a bundle (the one-file agent) has no import.meta.url to start from. */
const repo = () => new URL('../..', import.meta.url);

export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('package.json', repo()), 'utf8')) as { version: string })
    .version;
}

/**
 * Answers --help or --version (and exits 0), refuses an argument the command
 * does not take (exit 2), or returns the command's settings, parsed once.
 */
export function startCommand<T>(command: Command<T>, argv = process.argv.slice(2)): T {
  answerCommandLine(command, argv);
  const config = readConfig(command.name, command.parse);
  followSupervisor();
  return config;
}

/** Answers --help or --version and exits 0, or exits 2 on an argument the command does not take. */
export function answerCommandLine<T>(command: Command<T>, argv = process.argv.slice(2)): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(command));
    process.exit(0);
  }
  if (argv.includes('--version')) {
    process.stdout.write(`loadstar ${command.name} ${packageVersion()}\n`);
    process.exit(0);
  }
  if (command.usage === undefined && argv.length > 0) {
    process.stderr.write(
      `loadstar ${command.name}: unknown argument '${argv[0]}'; it takes --help or --version\n`,
    );
    process.exit(2);
  }
}

/** A setting as .env.example documents it: its default line and the comment above it. */
export interface DocumentedSetting {
  /** The value .env.example sets (the default); absent for a setting shown commented out. */
  value?: string;
  about: string;
}

/**
 * Reads .env.example: each `NAME=value` line (or `# NAME=` for a setting with no
 * fixed default) is described by the comment lines right above it, shared by the
 * settings listed together under one comment.
 */
export function documentedSettings(text: string): Map<string, DocumentedSetting> {
  const settings = new Map<string, DocumentedSetting>();
  let comment: string[] = [];
  let afterSetting = false;
  for (const line of text.split('\n')) {
    const set = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    const shown = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (set || shown) {
      const [, name, value] = (set ?? shown)!;
      const known = settings.get(name!);
      // An example value shown commented out never replaces the real line.
      if (set || !known)
        settings.set(name!, { value: set ? value : known?.value, about: comment.join('\n') });
      afterSetting = true;
    } else if (line.startsWith('## ') || line.trim() === '') {
      comment = [];
      afterSetting = false;
    } else if (line.startsWith('#')) {
      if (afterSetting) comment = [];
      afterSetting = false;
      comment.push(line.replace(/^#\s?/, ''));
    }
  }
  return settings;
}

/** The settings a command reads, in the order its parser asks for them. */
export function settingsRead<T>(command: Command<T>): string[] {
  const settings = new Settings({});
  try {
    command.parse(settings);
  } catch {
    // With nothing set, a parser may stop early; what it asked for until then is listed.
  }
  return [...settings.asked];
}

export function helpText<T>(command: Command<T>): string {
  let documented = new Map<string, DocumentedSetting>();
  try {
    documented = documentedSettings(readFileSync(new URL('.env.example', repo()), 'utf8'));
  } catch {
    // Without .env.example the names alone are listed.
  }
  const lines = [
    ...wrap(`loadstar ${command.name} ${packageVersion()}: ${command.about}`, 80),
    '',
    `Usage: npm run ${command.name} -- [--help | --version]${command.usage ? ` | npm run ${command.name} -- ${command.usage}` : ''}`,
    '',
    'Settings, from .env in the working directory and the environment (which wins);',
    'a bad one stops the command with exit status 2. Shown with their defaults:',
  ];
  for (const name of settingsRead(command)) {
    const doc = documented.get(name);
    lines.push('', `  ${name}=${doc?.value ?? ''}`);
    const about = doc?.about || 'not described in .env.example';
    for (const text of about.split('\n')) lines.push(`      ${text}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Breaks text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
