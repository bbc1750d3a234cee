// The bench's command line, read in one place, and how long each phase runs
// for it. Every phase is bounded twice: by a duration and by a count.

export interface BenchOptions {
  /** `--quick`: every phase shortened, to check that the bench works, not to quote. */
  quick: boolean;
  /** `--cluster`: 1 against 2 copies of the receiver and the storage consumer, instead of the rest. */
  cluster: boolean;
  /** `--storage`: only the storage figures (history codec against the layout before it). */
  storage: boolean;
  /** `--ingest`: only ingest and query against the bare-Koa ceiling (and where the CPU goes). */
  ingestOnly: boolean;
  /** `--producer`: only the agent's footprint beside node_exporter (with the services it posts to). */
  producer: boolean;
  /** `--dashboard`: only the dashboard figures (summary request, the overview's first render). */
  dashboard: boolean;
}

export interface BenchPlan {
  /** Concurrent posters (ingest) and clients (query), one keep-alive connection each. */
  concurrency: number;
  /** Measured rounds per side; pipeline and ceiling alternate so drift hits both. */
  rounds: number;
  roundMs: number;
  /** Unmeasured load before the first round of each side: JIT, connections, Redis keys. */
  warmupMs: number;
  /** The count bound of one round, far above what 2 cores can serve in `roundMs`. */
  maxRequestsPerRound: number;
  /** The storage consumer must catch up within this after a pipeline round. */
  catchUpMs: number;
  subscriberCounts: number[];
  /** Samples per second posted while subscribers listen. */
  grpcRate: number;
  grpcMeasureMs: number;
  /** Windows the measured span is cut in; the figures are their medians. */
  grpcWindows: number;
  /** Longest wait for every subscriber to receive its first sample. */
  grpcWarmupMaxMs: number;
  producerIntervals: number[];
  producerWarmupMs: number;
  producerWindowMs: number;
  /** Requests per kind of history query, and the time they may take in all. */
  historyRequests: number;
  historyMaxMs: number;
  /** Timed reads per kind of history query and Redis layout, in the storage figures. */
  storageQueries: number;
  /** Minutes of history per host, timed summary requests and cold page loads for the dashboard figures. */
  dashboard: { historyMinutes: number; summaryRequests: number; pageLoads: number };
}

const USAGE =
  'usage: npm run bench [-- --quick] [--cluster | --storage | --ingest | --producer | --dashboard]';

export function parseOptions(args: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    cluster: false,
    storage: false,
    ingestOnly: false,
    producer: false,
    dashboard: false,
  };
  for (const arg of args) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '--cluster') options.cluster = true;
    else if (arg === '--storage') options.storage = true;
    else if (arg === '--ingest') options.ingestOnly = true;
    else if (arg === '--producer') options.producer = true;
    else if (arg === '--dashboard') options.dashboard = true;
    else throw new Error(`unknown argument '${arg}'; ${USAGE}`);
  }
  return options;
}

export function planFor(options: BenchOptions): BenchPlan {
  const quick = options.quick;
  return {
    concurrency: 50,
    rounds: quick ? 1 : 3,
    roundMs: quick ? 3_000 : 6_000,
    warmupMs: quick ? 1_000 : 2_000,
    maxRequestsPerRound: 500_000,
    catchUpMs: 60_000,
    subscriberCounts: [1, 100, 1_000],
    grpcRate: 10,
    grpcMeasureMs: quick ? 5_000 : 15_000,
    grpcWindows: quick ? 1 : 3,
    grpcWarmupMaxMs: 20_000,
    producerIntervals: [5, 1],
    producerWarmupMs: quick ? 3_000 : 5_000,
    producerWindowMs: quick ? 10_000 : 60_000,
    historyRequests: quick ? 10 : 50,
    historyMaxMs: quick ? 20_000 : 60_000,
    storageQueries: quick ? 5 : 30,
    dashboard: {
      historyMinutes: quick ? 15 : 60,
      summaryRequests: quick ? 10 : 50,
      pageLoads: quick ? 3 : 10,
    },
  };
}
