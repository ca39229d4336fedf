#!/usr/bin/env bash
# Socket.IO broadcast fan-out on loopback: CLIENTS WebSocket clients, a
# server broadcasting MESSAGES messages to all of them; deliveries/s and
# the latency each message took (p50/p99), medians over ROUNDS rounds.
#
#   plain      socketioxide on axum, as a user would write it without Phial
#   phial      the same through Phial's Socket extension (local adapter)
#   redis-1    Phial with the Redis adapter, one node
#   redis-2    Phial with the Redis adapter, two nodes, half the clients on
#              each, the broadcast sent from the first
#
# Throughput: the messages are sent back to back (latency there is mostly
# queueing). Latency: the same cases with one message every GAP_US µs
# (default 20000), where p50/p99 is what delivery and the adapter add.
#
# Servers on CPU $SERVER_CPU, the clients on CPU $CLIENT_CPU (taskset);
# the cases alternate within each round.
#
#   ROUNDS=5 CLIENTS=1000 MESSAGES=200 scripts/bench-socket.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-1000}
MESSAGES=${MESSAGES:-200}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
REDIS_URL=${PHIAL_TEST_REDIS_URL:-redis://127.0.0.1:6379}
GAP=${GAP_US:-20000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phial-target}"
cargo build --release --quiet -p phial-bench --bin socket
bin="$CARGO_TARGET_DIR/release/socket"
ulimit -n 65536 2>/dev/null || true

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

serve() { # PORT ARGS...: start a server, wait for its port
  local port=$1
  shift
  taskset -c "$SERVER_CPU" "$bin" serve "$1" "$port" "${@:2}" &
  pids+=($!)
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return
    sleep 0.05
  done
  echo "server on $port did not start" >&2
  exit 1
}
stop() { cleanup; wait 2>/dev/null || true; pids=(); }
drive() { GAP_US=$gap taskset -c "$CLIENT_CPU" "$bin" drive "$CLIENTS" "$MESSAGES" "$@"; }

results=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for gap in 0 "$GAP"; do
    tag=""
    [[ $gap != 0 ]] && tag="-paced"
    serve 5301 plain
    r=$(drive http://127.0.0.1:5301); stop
    echo "round $round plain$tag: $r" >&2; echo "$round plain$tag $r" >>"$results"
    serve 5302 phial
    r=$(drive http://127.0.0.1:5302); stop
    echo "round $round phial$tag: $r" >&2; echo "$round phial$tag $r" >>"$results"
    serve 5303 phial "$REDIS_URL"
    r=$(drive http://127.0.0.1:5303); stop
    echo "round $round redis-1$tag: $r" >&2; echo "$round redis-1$tag $r" >>"$results"
    serve 5303 phial "$REDIS_URL"
    serve 5304 phial "$REDIS_URL"
    r=$(drive http://127.0.0.1:5303 http://127.0.0.1:5304); stop
    echo "round $round redis-2$tag: $r" >&2; echo "$round redis-2$tag $r" >>"$results"
  done
done

median() { # CASE FIELD
  awk -v c="$1" -v f="$2" '$2 == c { v[n++] = $f } END { asort(v); print v[int((n + 1) / 2)] }' "$results"
}
ratio() { # A B: median over rounds of A/B deliveries
  awk -v a="$1" -v b="$2" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
    END { n = 0; for (r in x) v[n++] = x[r] / y[r]; asort(v); print v[int((n + 1) / 2)] }' "$results"
}

echo
echo "$CLIENTS WebSocket clients, $MESSAGES broadcasts, median of $ROUNDS round(s); servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
printf '%-40s %14s %10s %10s\n' case "deliveries/s" "p50 µs" "p99 µs"
for c in plain phial redis-1 redis-2; do
  printf '%-40s %14.0f %10s %10s\n' "$c, back to back" "$(median "$c" 3)" "$(median "$c" 4)" "$(median "$c" 5)"
done
for c in plain phial redis-1 redis-2; do
  printf '%-40s %14.0f %10s %10s\n' "$c, one every ${GAP} µs" "$(median "$c-paced" 3)" "$(median "$c-paced" 4)" "$(median "$c-paced" 5)"
done
echo
printf '%-40s %8.3f\n' "phial / plain socketioxide" "$(ratio phial plain)"
printf '%-40s %8.3f\n' "Redis adapter, one node / local" "$(ratio redis-1 phial)"
printf '%-40s %8.3f\n' "Redis adapter, two nodes / one node local" "$(ratio redis-2 phial)"
rm -f "$results"
