// The producer's settings, read once at start (see .env.example).
import { hostname } from 'node:os';
import type { Command } from '../deploy/runtime/command.ts';
import { ConfigError, type Env, readConfig, SHARED_DEFAULTS } from '../deploy/runtime/config.ts';
import { type LogSettings, readLogSettings } from '../deploy/runtime/log.ts';
import { readTrustSettings, type TrustSettings } from '../deploy/runtime/trust.ts';
import { HOST_NAME } from '../proto/sample.ts';
import { type RemoteSourceSettings, readSourcesFile } from './sources/file.ts';

export interface ProducerConfig {
  /** Where samples are posted; several (comma separated) are tried in turn (RECEIVER_URL). */
  receivers: URL[];
  /** Seconds between two collections (INTERVAL, fractions allowed). */
  intervalSeconds: number;
  /** The name this machine reports as (HOST, default the hostname). */
  host: string;
  spool: { dir: string; maxBytes: number };
  batchSize: number;
  drainRate: number;
  /** Longest a source may take before its collection is abandoned (SOURCE_TIMEOUT). */
  sourceTimeoutMs: number;
  /** Path of nvidia-smi (NVIDIA_SMI); unset: `nvidia-smi` on PATH, asked only when NVIDIA's driver is loaded. */
  nvidiaSmi?: string;
  /** Collect this machine (LOCAL_SOURCE); off for an agent used only to poll remote sources. */
  localSource: boolean;
  /** Remote sources from the file at SOURCES_FILE, checked; empty without one. */
  sources: RemoteSourceSettings[];
  token?: string;
  /** A CA to trust besides the system's, for https:// receivers (TLS_CA_FILE). */
  trust?: TrustSettings;
  log: LogSettings;
}

/** The hostname made to fit host names' alphabet. */
export function defaultHost(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9_.:-]/g, '_')
      .slice(0, 253) || 'localhost'
  );
}

export const producerCommand: Command<ProducerConfig> = {
  name: 'producer',
  about:
    "the agent: collects this machine's load (and the remote sources of SOURCES_FILE) every INTERVAL seconds and delivers it to the receiver through a disk spool that survives outages.",
  parse: (s) => {
    const log = readLogSettings(s);
    const intervalSeconds = s.number('INTERVAL', SHARED_DEFAULTS.INTERVAL, {
      min: 0.05,
      max: 86_400,
    });
    const sourceTimeoutMs = s.duration(
      'SOURCE_TIMEOUT',
      `${Math.min(10, Math.max(0.5, intervalSeconds))}s`,
      { min: 10 },
    );
    const sourcesFile = s.optionalString('SOURCES_FILE');
    const sources = sourcesFile
      ? readSourcesFile(sourcesFile, { intervalSeconds, timeoutMs: sourceTimeoutMs, env: s.env })
      : [];
    const localSource = s.boolean('LOCAL_SOURCE', true);
    if (!localSource && sources.length === 0) {
      throw new ConfigError(
        'LOCAL_SOURCE',
        'is false and SOURCES_FILE names no source: the agent would collect nothing',
      );
    }
    return {
      log,
      receivers: s.urls('RECEIVER_URL', SHARED_DEFAULTS.RECEIVER_URL, ['http:', 'https:']),
      intervalSeconds,
      host: s.string('HOST', defaultHost(), HOST_NAME),
      spool: {
        dir: s.string('SPOOL_DIR', '.data/spool'),
        maxBytes: s.size('SPOOL_MAX_BYTES', '100MB', { min: 65_536 }),
      },
      batchSize: s.number('BATCH_SIZE', 500, { min: 1, max: 10_000, integer: true }),
      drainRate: s.number('DRAIN_RATE', 5000, { min: 1 }),
      sourceTimeoutMs,
      nvidiaSmi: s.optionalString('NVIDIA_SMI'),
      localSource,
      sources,
      token: s.optionalString('INGEST_TOKEN'),
      trust: readTrustSettings(s),
    };
  },
};

export function readProducerConfig(env?: Env): ProducerConfig {
  return readConfig(producerCommand.name, producerCommand.parse, env);
}
