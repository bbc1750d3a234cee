#!/usr/bin/env bash
# `npm start`: sets up what a fresh Debian machine lacks (npm packages;
# nats-server and redis-server from apt) and runs the whole pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "loadstar: installing npm packages" >&2
  npm install --no-audit --no-fund
fi

# The services as JavaScript (dist/): built when missing or older than what they are built from.
if [ ! -f dist/.built ] || [ -n "$(find proto producer receiver gateway deploy package.json package-lock.json .env.example tsconfig.json tsconfig.build.json -newer dist/.built -print -quit)" ]; then
  node --import tsx deploy/build.ts
fi

# The one-file agent for other hosts (dist/agent/): built when missing or older than what it is built from.
agent=dist/agent/loadstar-agent.js
if [ ! -f "$agent" ] || [ -n "$(find producer proto deploy/agent package.json package-lock.json .env.example -newer "$agent" -print -quit)" ]; then
  node --import tsx deploy/agent/build.ts ||
    echo "loadstar: could not build $agent; the pipeline starts all the same" >&2
fi

missing=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then as_root=(); elif command -v sudo >/dev/null 2>&1; then as_root=(sudo); else as_root=(none); fi
  if [ "${as_root[0]:-}" = none ]; then
    echo "loadstar: ${missing[*]} missing: install with: su -c 'apt-get install -y ${missing[*]}'" >&2
    exit 1
  fi
  echo "loadstar: installing ${missing[*]} from apt" >&2
  for attempt in 1 2 3 4 5 6; do
    if "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
       { "${as_root[@]}" apt-get update && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; }; then
      break
    fi
    echo "loadstar: apt-get failed (dpkg lock held?); retrying in 10 s" >&2
    sleep 10
  done
fi
export PATH="$PATH:/usr/sbin"
exec node dist/deploy/supervise.js "$@"
