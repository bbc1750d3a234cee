// The agent's command line: `--help` and `--version` answer and exit 0; any
// other argument exits 2 with the usage. Everything else is a setting (.env or
// the environment), so that a systemd unit, a shell and a container agree.
import packageJson from '../package.json' with { type: 'json' };

/** Set by the bundle build (deploy/agent/build.ts): the commit and date it was built from. */
declare const LOADSTAR_AGENT_BUILD: string | undefined;

/** Whether this is the one-file agent (the build defines its build id), not the repository's producer. */
export function isAgentBundle(): boolean {
  return typeof LOADSTAR_AGENT_BUILD === 'string';
}

export function agentVersion(): string {
  const build = typeof LOADSTAR_AGENT_BUILD === 'string' ? LOADSTAR_AGENT_BUILD : 'source';
  return `loadstar-agent ${packageJson.version} (${build}; node ${process.version})`;
}

const USAGE = `Usage: loadstar-agent [--help | --version]

Collects this machine's load (cpu, memory, swap, disks, network, pressure,
gpu where there is one) every INTERVAL seconds and posts it to a loadstar
receiver, keeping samples in a disk spool while no receiver answers.

Settings come from the environment and from .env in the working directory
(the environment wins). The main ones, with their defaults:
  RECEIVER_URL     http://localhost:8090/data  where samples are posted; several,
                   comma separated, are tried in turn
  INTERVAL         5             seconds between two collections (fractions allowed)
  HOST             the hostname  the name this machine reports as
  SPOOL_DIR        .data/spool   disk spool: samples wait here for a receiver
  SPOOL_MAX_BYTES  100MB         its size; past it the oldest samples are dropped
  INGEST_TOKEN     (none)        sent as Authorization: Bearer when the receiver wants one
  NVIDIA_SMI       nvidia-smi    for gpu metrics, asked when NVIDIA's driver is loaded
  SOURCES_FILE     (none)        YAML or JSON file of remote sources to poll as well
  LOG_LEVEL        info          debug, info, warn or error
Also BATCH_SIZE, DRAIN_RATE, SOURCE_TIMEOUT and LOCAL_SOURCE (see loadstar-agent.env).
A bad setting stops the agent at start with one line naming it, and exit status 2.
`;

/** Answers --help and --version (and exits); returns when there is nothing to answer. */
export function answerCommandLine(args: readonly string[]): void {
  const [arg, ...rest] = args;
  if (arg === undefined) return;
  if (rest.length === 0 && (arg === '--help' || arg === '-h')) {
    process.stdout.write(`${agentVersion()}\n\n${USAGE}`);
    process.exit(0);
  }
  if (rest.length === 0 && (arg === '--version' || arg === '-V')) {
    process.stdout.write(`${agentVersion()}\n`);
    process.exit(0);
  }
  process.stderr.write(`loadstar-agent: unknown argument '${args.join(' ')}'\n\n${USAGE}`);
  process.exit(2);
}
