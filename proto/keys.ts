// Redis key names. Keys of one host share the hash tag {host}, so one host's
// fold is one atomic script even on a Redis Cluster; keys that span hosts share
// the tag {loadstar}.

const GLOBAL = '{loadstar}';

export const keys = {
  /** hash metric -> "time|host|interval|value": the newest value of each metric from any host */
  latest: `${GLOBAL}:latest`,
  /** zset host -> last seen time (ms) */
  hosts: `${GLOBAL}:hosts`,
  /** hash "service:instance" -> JSON of that process's counters, for the gateway's /metrics */
  stats: `${GLOBAL}:stats`,
  /** the stream position up to which everything is folded into this Redis (see the storage consumer) */
  checkpoint: `${GLOBAL}:checkpoint`,
  /** held by the storage consumer copy that is rebuilding Redis from the stream */
  rebuilding: `${GLOBAL}:rebuilding`,
  /** hash paused, wiped_before: all hosts' recording rules, for hosts without a copy of their own */
  recordingAll: `${GLOBAL}:rec`,

  /** zset sample id -> time: the ids folded for this host, for deduplication */
  seen: (host: string) => `ls:{${host}}:seen`,
  /** hash metric -> "time|value": this host's newest value of each metric */
  hostLatest: (host: string) => `ls:{${host}}:latest`,
  /** hash: interval, first_seen, last_seen, samples */
  hostMeta: (host: string) => `ls:{${host}}:meta`,
  /** zset time -> "time:value": raw history of one metric of one host */
  raw: (host: string, metric: string) => `ls:{${host}}:raw:${metric}`,
  /** hash "metric|minute" (minute in epoch ms) -> "count|sum|min|max": one host's one-minute aggregates for one UTC day */
  minutes: (host: string, day: number) => `ls:{${host}}:1m:${day}`,
  /** The prefix every key of one host shares; the fold scripts derive the host's keys from it. */
  hostPrefix: (host: string) => `ls:{${host}}:`,
  /** set of the metric names this host has reported */
  metrics: (host: string) => `ls:{${host}}:metrics`,
  /** zset sample id -> time: the samples history keeps now (within raw retention) */
  stored: (host: string) => `ls:{${host}}:stored`,
  /** hash paused, wiped_before: this host's recording rules, as the fold reads them */
  recording: (host: string) => `ls:{${host}}:rec`,
};

export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;

/** The UTC day number of an epoch-ms time: which `minutes` key holds it. */
export function dayOf(time: number): number {
  return Math.floor(time / DAY_MS);
}

// ---- Alerting: silences, acknowledgements, the notifier's and the absence clock's state ----
// Apart from the sample and history keys above. All span hosts, so all share the tag {loadstar}.
export const alertKeys = {
  /** hash silence id -> JSON of the silence (proto/silence.ts) */
  silences: `${GLOBAL}:silences`,
  /** hash incident id -> JSON of its acknowledgement (who, when, why) */
  acks: `${GLOBAL}:incident-acks`,
  /** zset host -> the earliest time (ms) it could count as silent: what the absence clock checks */
  absentDeadlines: `${GLOBAL}:absent-deadlines`,
  /** hash receiver name -> JSON of its settings as the notifier runs them (proto/receivers.ts) */
  receivers: `${GLOBAL}:notifier:receivers`,
  /** hash: one receiver's delivery counters and last error, summed over every notifier copy */
  receiverStats: (receiver: string) => `${GLOBAL}:notifier:receiver:${receiver}`,
  /** hash "<incident id>|<receiver>" -> the last reminder number queued */
  reminded: `${GLOBAL}:notifier:reminded`,
};
