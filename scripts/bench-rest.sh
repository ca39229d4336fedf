#!/usr/bin/env bash
# phial-rest against hand-written axum + sea-orm over HTTP, driven by wrk:
# the generated list (20 rows) and get, the same endpoints written by hand
# (same queries, same JSON), and a 304 answered from the cache against a
# 200. Then bulk create of 100,000 rows against raw multi-row inserts.
# Prints requests/s and ratios (medians over rounds). Run on demand:
#
#   scripts/bench-rest.sh                  # 3 rounds of 10 s per case
#   ROUNDS=5 DURATION=5s scripts/bench-rest.sh
#   PHIAL_BENCH_LAYERS=off scripts/bench-rest.sh   # the core's optional layers off
#
# Server and wrk are pinned to different cores (taskset); the variants are
# interleaved within each round so drift hits all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p phial-bench --bin rest
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/rest"

taskset -c "$SERVER_CPU" "$bin" serve 1000 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  curl -fs -o /dev/null http://127.0.0.1:5203/api/posts/1 && break
  sleep 0.1
done
etag=$(curl -fsI http://127.0.0.1:5202/api/posts/1 | tr -d '\r' | sed -n 's/^etag: //Ip')

rps() { # url [header]
  local args=(-t1 -c"$CONNS" -d"$DURATION")
  [[ -n "${2:-}" ]] && args+=(-H "$2")
  taskset -c "$CLIENT_CPU" wrk "${args[@]}" "$1" | awk '/Requests\/sec/ { print $2 }'
}

declare -A cases=(
  [list-phial]="http://127.0.0.1:5201/api/posts?per_page=20"
  [list-axum]="http://127.0.0.1:5203/api/posts?per_page=20"
  [get-phial]="http://127.0.0.1:5201/api/posts/1"
  [get-axum]="http://127.0.0.1:5203/api/posts/1"
  [get-200]="http://127.0.0.1:5201/api/posts/1"
  [get-304-cached]="http://127.0.0.1:5202/api/posts/1"
)
results=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for c in list-phial list-axum get-phial get-axum get-200 get-304-cached; do
    header=""
    [[ $c == get-304-cached ]] && header="If-None-Match: $etag"
    r=$(rps "${cases[$c]}" "$header")
    echo "round $round  $c: $r req/s" >&2
    echo "$round $c $r" >>"$results"
  done
done

ratio() { # a b: median over rounds of a/b
  awk -v a="$1" -v b="$2" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
    END { n = 0; for (r in x) v[n++] = x[r] / y[r]; asort(v); print v[int((n + 1) / 2)] }' "$results"
}
median() {
  awk -v c="$1" '$2 == c { v[n++] = $3 } END { asort(v); print v[int((n + 1) / 2)] }' "$results"
}

echo
echo "wrk -t1 -c$CONNS -d$DURATION, median of $ROUNDS round(s); server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; 1,000 posts in SQLite"
printf '%-44s %12s %12s %8s\n' case "phial req/s" "base req/s" ratio
printf '%-44s %12.0f %12.0f %8.3f\n' "list, 20 rows: generated / hand-written" "$(median list-phial)" "$(median list-axum)" "$(ratio list-phial list-axum)"
printf '%-44s %12.0f %12.0f %8.3f\n' "get: generated / hand-written" "$(median get-phial)" "$(median get-axum)" "$(ratio get-phial get-axum)"
printf '%-44s %12.0f %12.0f %8.2fx\n' "get: 304 from the cached ETag / 200" "$(median get-304-cached)" "$(median get-200)" "$(ratio get-304-cached get-200)"
kill $server 2>/dev/null || true
rm -f "$results"

echo
taskset -c "$SERVER_CPU" "$bin" bulk 100000 "${ROUNDS}"
