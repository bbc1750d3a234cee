#!/usr/bin/env bash
# Joins six running, empty Redis nodes (redis-7000.conf … redis-7005.conf) into
# loadstar's Redis Cluster: 3 primaries, each with 1 replica. Run it from any
# machine with redis-cli; once the cluster is formed, running it again changes
# nothing (redis-cli refuses nodes that already hold data or know other nodes).
#   deploy/redis-cluster/create.sh                       # 127.0.0.1:7000 … 127.0.0.1:7005
#   deploy/redis-cluster/create.sh 10.0.0.11:7000 10.0.0.12:7000 10.0.0.13:7000 \
#                                  10.0.0.11:7001 10.0.0.12:7001 10.0.0.13:7001
# redis-cli takes the first three as primaries and pairs replicas on other
# machines where it can. With requirepass set, export REDISCLI_AUTH=<password>.
set -euo pipefail

if [ $# -eq 0 ]; then
  set -- 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005
fi
if [ $# -ne 6 ]; then
  echo "usage: $0 [host:port x 6]: 3 primaries and 3 replicas (got $# nodes)" >&2
  exit 2
fi

info() { # host:port -> its CLUSTER INFO, empty when it does not answer
  redis-cli -h "${1%:*}" -p "${1##*:}" cluster info 2>/dev/null || true
}
cluster_ok() { # host:port -> whether it says ok and knows all six nodes
  local state
  state=$(info "$1")
  [[ $state == *cluster_state:ok* && $state == *cluster_known_nodes:6* ]]
}
if cluster_ok "$1"; then
  echo "loadstar: $1 is already in a cluster of 6 nodes; nothing to do" >&2
  exit 0
fi

redis-cli --cluster create "$@" --cluster-replicas 1 --cluster-yes

# redis-cli returns once the slots are assigned; the nodes then agree through
# gossip within a few seconds. Wait (at most 30 s) until every node says ok
# and knows the other five.
for _ in $(seq 1 60); do
  ok=0
  for node in "$@"; do
    if cluster_ok "$node"; then ok=$((ok + 1)); fi
  done
  if [ "$ok" -eq $# ]; then
    echo "loadstar: Redis Cluster ready; REDIS_URL=$(printf 'redis://%s,' "$@" | sed 's/,$//')"
    exit 0
  fi
  sleep 0.5
done
echo "loadstar: the Redis Cluster is not ok on all six nodes after 30 s (redis-cli -p <port> cluster info)" >&2
exit 1
