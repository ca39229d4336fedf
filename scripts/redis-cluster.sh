#!/usr/bin/env bash
# A local Redis Cluster for tests: 6 redis-server processes on loopback
# (3 primaries, 3 replicas), nothing kept on disk.
#
#   scripts/redis-cluster.sh start    # prints the seed URLs; idempotent
#   scripts/redis-cluster.sh restart  # a fresh, empty cluster (what CI uses)
#   scripts/redis-cluster.sh stop
#   scripts/redis-cluster.sh status
#
# `start` reuses a healthy cluster already on these ports. One left broken
# (a node killed and its state gone, a half-made cluster) is given a few
# seconds to heal (a failover in progress) and otherwise rebuilt.
#
# Ports: PHIAL_CLUSTER_PORT (default 7100) to +5. State in
# ${PHIAL_CLUSTER_DIR:-/tmp/phial-redis-cluster}.
set -euo pipefail
base=${PHIAL_CLUSTER_PORT:-7100}
dir=${PHIAL_CLUSTER_DIR:-/tmp/phial-redis-cluster}
ports=$(seq "$base" $((base + 5)))

need() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
  echo "installing redis-server (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
}

up() { redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }
healthy() { redis-cli -p "$base" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

launch() {
  mkdir -p "$dir"
  for p in $ports; do
    up "$p" && continue
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes --cluster-enabled yes \
      --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 2000 \
      --save "" --appendonly no --dir "$dir/$p" --logfile "$dir/$p/redis.log" --pidfile "$dir/$p/redis.pid"
  done
  for p in $ports; do
    for _ in $(seq 1 50); do up "$p" && break; sleep 0.1; done
    up "$p" || { echo "redis-server on port $p did not start; see $dir/$p/redis.log" >&2; exit 1; }
  done
}

# Every node empty and unclustered? Then `--cluster create` can run.
fresh() {
  for p in $ports; do
    [ "$(redis-cli -p "$p" cluster info 2>/dev/null | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')" = 1 ] || return 1
    [ "$(redis-cli -p "$p" dbsize 2>/dev/null)" = 0 ] || return 1
  done
}

create() {
  # shellcheck disable=SC2046
  redis-cli --cluster create $(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done) \
    --cluster-replicas 1 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do healthy && return; sleep 0.1; done
}

start() {
  need
  launch
  if ! healthy && ! fresh; then
    # Nodes from an earlier cluster: maybe a failover is still under way.
    for _ in $(seq 1 50); do healthy && break; sleep 0.1; done
    if ! healthy; then
      echo "the cluster on ports $base-$((base + 5)) is broken; rebuilding it" >&2
      stop
      launch
    fi
  fi
  healthy || create
  healthy || { echo "the cluster did not become ready; see $dir/*/redis.log" >&2; exit 1; }
  for p in $ports; do printf 'redis://127.0.0.1:%s\n' "$p"; done
}

stop() {
  for p in $ports; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  # Wait until each port is free, or a restart would race the old process.
  for p in $ports; do
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -rf "$dir"
}

status() {
  for p in $ports; do
    if up "$p"; then echo "$p up ($(redis-cli -p "$p" role | head -1))"; else echo "$p down"; fi
  done
}

case "${1:-}" in
  start) start ;;
  restart) stop; start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|restart|stop|status" >&2; exit 2 ;;
esac
