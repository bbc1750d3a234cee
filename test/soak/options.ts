// The soak's command line, read in one place: how long, how hard, how many
// hosts and subscribers, and where the figures go. The defaults are the run the
// soak was specified as (2,000 samples/s); docs/soak.md says what it was run at.

export interface SoakOptions {
  minutes: number;
  /** Samples per second offered by all simulated hosts together. */
  rate: number;
  hosts: number;
  subscribers: number;
  /** Unjudged start: JIT, connections, and the stores filling up to their retention. */
  warmupMinutes: number;
  /** Where soak.md and soak.png go. */
  outDir: string;
}

const USAGE =
  'usage: npm run soak [-- --minutes 30] [--rate 2000] [--hosts 1000] [--subscribers 100] [--warmup 10] [--out docs]';

/** A run shorter than this is a check of the soak itself: its figures do not replace docs/. */
export const FULL_RUN_MINUTES = 10;
/** Ten judged minutes and more after the warm-up. */
const DEFAULT_MINUTES = 30;

export function parseOptions(args: readonly string[]): SoakOptions {
  const given = new Map<string, number | string>();
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[i + 1];
    if (!flag.startsWith('--') || value === undefined) {
      throw new Error(`'${flag}' needs a value; ${USAGE}`);
    }
    const name = flag.slice(2);
    if (name === 'out') given.set(name, value);
    else if (['minutes', 'rate', 'hosts', 'subscribers', 'warmup'].includes(name)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} ${value}: not a positive number`);
      given.set(name, n);
    } else throw new Error(`unknown argument '${flag}'; ${USAGE}`);
    i++;
  }
  const minutes = (given.get('minutes') as number | undefined) ?? DEFAULT_MINUTES;
  const options: SoakOptions = {
    minutes,
    rate: (given.get('rate') as number | undefined) ?? 2_000,
    hosts: Math.round((given.get('hosts') as number | undefined) ?? 1_000),
    subscribers: Math.round((given.get('subscribers') as number | undefined) ?? 100),
    // A third of the run, at most ten minutes: in a 30-minute run the gateway's RSS
    // climbed for its first nine or so, then stayed level to the MB.
    warmupMinutes: (given.get('warmup') as number | undefined) ?? Math.min(10, minutes / 3),
    outDir:
      (given.get('out') as string | undefined) ??
      (minutes >= FULL_RUN_MINUTES ? 'docs' : 'test-results/soak'),
  };
  if (options.warmupMinutes >= options.minutes) {
    throw new Error(`--warmup ${options.warmupMinutes} leaves nothing of --minutes ${minutes}`);
  }
  if (options.subscribers > options.hosts) {
    throw new Error('--subscribers must not exceed --hosts: each subscriber watches its own hosts');
  }
  return options;
}
