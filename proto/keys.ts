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

  /** zset sample id -> time: the ids folded for this host, for deduplication */
  seen: (host: string) => `ls:{${host}}:seen`,
  /** hash metric -> "time|value": this host's newest value of each metric */
  hostLatest: (host: string) => `ls:{${host}}:latest`,
  /** hash: interval, first_seen, last_seen, samples */
  hostMeta: (host: string) => `ls:{${host}}:meta`,
  /** zset time -> "time:value": raw history of one metric of one host */
  raw: (host: string, metric: string) => `ls:{${host}}:raw:${metric}`,
};
