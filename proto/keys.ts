// Redis key names. Keys of one host share the hash tag {host}, so one host's
// fold is one atomic script even on a Redis Cluster; keys that span hosts share
// the tag {loadstar}. History's own keys and bytes belong to store/codec.ts.

const GLOBAL = '{loadstar}';

export const keys = {
  /** hash metric -> "time|host|interval|token": the newest value of each metric from any host (see store/codec.ts) */
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

  /** hash metric -> "time|token": this host's newest value of each metric (see store/codec.ts) */
  hostLatest: (host: string) => `ls:{${host}}:latest`,
  /** hash: interval, first_seen, last_seen, samples */
  hostMeta: (host: string) => `ls:{${host}}:meta`,
  /** set of the metric names this host has reported */
  metrics: (host: string) => `ls:{${host}}:metrics`,
  /** hash paused, wiped_before: this host's recording rules, as the fold reads them */
  recording: (host: string) => `ls:{${host}}:rec`,
};

// ---- Alerting: silences, acknowledgements, the notifier's and the absence clock's state ----
// Apart from the sample keys above. All span hosts, so all share the tag {loadstar}.
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
