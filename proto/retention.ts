// How long each kind of stored data lives; read by the fold (receiver and
// storage consumer) and by the gateway (queries and resets), so both agree.
import type { Settings } from '../deploy/runtime/config.ts';

export interface Retention {
  /** Samples older than this are refused, and sample ids are remembered this long (SAMPLE_MAX_AGE). */
  horizonMs: number;
  /** How long raw history is kept (HISTORY_RAW_RETENTION). */
  rawRetentionMs: number;
  /** How long one-minute aggregates are kept (HISTORY_1M_RETENTION). */
  minuteRetentionMs: number;
}

export function readRetention(settings: Settings): Retention {
  return {
    horizonMs: settings.duration('SAMPLE_MAX_AGE', '24h', { min: 60_000 }),
    rawRetentionMs: settings.duration('HISTORY_RAW_RETENTION', '24h', { min: 60_000 }),
    minuteRetentionMs: settings.duration('HISTORY_1M_RETENTION', '30d', { min: 3_600_000 }),
  };
}
