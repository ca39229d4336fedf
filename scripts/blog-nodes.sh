#!/usr/bin/env bash
# Three `blog` nodes on loopback, started together, against one PostgreSQL
# database and the local Redis Cluster (scripts/redis-cluster.sh), with the
# production config (examples/blog/deploy/production.toml): a tiered cache
# over the cluster, the Socket.IO cluster adapter, PHIAL_ENV=production.
#
#   scripts/blog-nodes.sh start    # prints one URL per node once all are ready
#   scripts/blog-nodes.sh stop     # SIGTERM: in-flight requests finish, then exit
#   scripts/blog-nodes.sh status
#
# Then: `curl http://127.0.0.1:5101/`, the API at /api/docs/, the admin at
# /admin/ once a user exists; `cli` runs the blog's command line with the
# nodes' settings:
#
#   scripts/blog-nodes.sh cli admin create-user --username you --superuser
#   scripts/blog-nodes.sh cli db status
#
# Settings (environment):
#   PHIAL_NODES_BIN    a blog binary (default: `cargo build -p blog`, debug)
#   PHIAL_NODES_PORTS  the nodes' ports (default "5101 5102 5103")
#   PHIAL_NODES_DB     the database, created if missing (default blog_nodes)
#   PHIAL_NODES_PG     the PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
#   PHIAL_NODES_DIR    logs, pids, the generated secret key, API and metrics tokens
#                      (default /tmp/phial-blog-nodes)
#   PHIAL_NODES_PREFIX the cache key prefix and socket channel (default blog-nodes)
#
# A file PHIAL_NODES_DIR/nodeN.env (VAR=value lines) adds settings for node
# N alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ports=${PHIAL_NODES_PORTS:-5101 5102 5103}
db=${PHIAL_NODES_DB:-blog_nodes}
pg=${PHIAL_NODES_PG:-postgres://postgres@127.0.0.1:5432}
dir=${PHIAL_NODES_DIR:-/tmp/phial-blog-nodes}
prefix=${PHIAL_NODES_PREFIX:-blog-nodes}

binary() {
  if [[ -n "${PHIAL_NODES_BIN:-}" ]]; then
    echo "$PHIAL_NODES_BIN"
    return
  fi
  (cd "$root" && cargo build -q -p blog >&2)
  echo "${CARGO_TARGET_DIR:-$root/target}/debug/blog"
}

# The environment every node (and every command against them) shares.
node_env() {
  export PHIAL_ENV=production
  export PHIAL_CONFIG="$root/examples/blog/deploy/production.toml"
  export PHIAL_SECRET_KEY; PHIAL_SECRET_KEY=$(cat "$dir/secret_key")
  export PHIAL_BLOG__API_TOKEN; PHIAL_BLOG__API_TOKEN=$(cat "$dir/api_token")
  export PHIAL_METRICS__TOKEN; PHIAL_METRICS__TOKEN=$(cat "$dir/metrics_token")
  export PHIAL_DATABASE__URL="$pg/$db"
  export PHIAL_CACHE__KEY_PREFIX="$prefix:"
  export PHIAL_SOCKET__CHANNEL_PREFIX="$prefix-socket.io"
  export RUST_LOG=${RUST_LOG:-info}
}

ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/readyz" 2>/dev/null; }

start() {
  command -v curl >/dev/null || { echo "curl is needed (apt-get install curl)" >&2; exit 1; }
  command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }
  local bin; bin=$(binary)
  [[ -x "$bin" ]] || { echo "no blog binary at $bin" >&2; exit 1; }
  "$root/scripts/redis-cluster.sh" start >/dev/null
  mkdir -p "$dir"
  [[ -s "$dir/secret_key" ]] || "$bin" secret >"$dir/secret_key"
  [[ -s "$dir/api_token" ]] || "$bin" secret >"$dir/api_token"
  [[ -s "$dir/metrics_token" ]] || "$bin" secret >"$dir/metrics_token"
  if [[ "$(psql "$pg/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
    psql "$pg/postgres" -qc "CREATE DATABASE \"$db\"" >/dev/null
  fi
  node_env
  # All at once: the migration lock lets one node apply the migrations.
  local i=0
  for port in $ports; do
    i=$((i + 1))
    if [[ -s "$dir/node$i.pid" ]] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
      echo "node $i is already running (pid $(cat "$dir/node$i.pid"))" >&2
      continue
    fi
    mkdir -p "$dir/node$i"
    # A node's own settings on top (the consistency suite routes each
    # node's Redis and PostgreSQL connections through its own proxies).
    (
      cd "$dir/node$i"
      if [[ -s "$dir/node$i.env" ]]; then set -a; source "$dir/node$i.env"; set +a; fi
      exec "$bin" run --bind "127.0.0.1:$port" >>"$dir/node$i.log" 2>&1
    ) &
    echo $! >"$dir/node$i.pid"
  done
  i=0
  for port in $ports; do
    i=$((i + 1))
    for _ in $(seq 1 600); do
      ready "$port" && break
      kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null || break
      sleep 0.1
    done
    if ! ready "$port"; then
      echo "node $i (port $port) did not become ready; its log ($dir/node$i.log):" >&2
      tail -20 "$dir/node$i.log" >&2
      exit 1
    fi
  done
  for port in $ports; do echo "http://127.0.0.1:$port"; done
}

stop() {
  local i=0 pid
  for _ in $ports; do
    i=$((i + 1))
    [[ -s "$dir/node$i.pid" ]] || continue
    pid=$(cat "$dir/node$i.pid")
    kill -TERM "$pid" 2>/dev/null || true
  done
  i=0
  for _ in $ports; do
    i=$((i + 1))
    [[ -s "$dir/node$i.pid" ]] || continue
    pid=$(cat "$dir/node$i.pid")
    # The shutdown timeout is 30 s; then it is killed.
    for _ in $(seq 1 350); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/node$i.pid"
  done
}

status() {
  local i=0
  for port in $ports; do
    i=$((i + 1))
    if ready "$port"; then echo "node $i http://127.0.0.1:$port ready"; else echo "node $i http://127.0.0.1:$port down"; fi
  done
}

cli() {
  local bin; bin=$(binary)
  [[ -s "$dir/secret_key" ]] || { echo "start the nodes first" >&2; exit 1; }
  node_env
  "$bin" "$@"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  cli) shift; cli "$@" ;;
  *) echo "usage: $0 start|stop|status|cli ARGS..." >&2; exit 2 ;;
esac
