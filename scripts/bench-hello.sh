#!/usr/bin/env bash
# Phial's `hello` against bare axum serving the same /plaintext and /json
# handlers, both driven by wrk in one run. Prints requests/s, p99 latency
# and the ratio Phial / bare axum, for Phial's default middleware stack and
# with the optional layers off. Run on demand (not in CI):
#
#   scripts/bench-hello.sh                 # 3 rounds of 10 s per case
#   ROUNDS=1 DURATION=5s scripts/bench-hello.sh
#   VARIANTS="axum phial-layers-off" ROUNDS=5 scripts/bench-hello.sh
#
# Server and load generator are pinned to different cores (taskset) so they
# do not fight over one; each figure is the median over the rounds, and the
# variants are interleaved within each round so drift hits all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

# BIN_DIR=path: use binaries built elsewhere (e.g. an older commit's) as they are.
if [[ -n "${BIN_DIR:-}" ]]; then
  bin=$BIN_DIR
else
  cargo build --release -q -p hello -p phial-bench
  target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  bin="$target_dir/release"
fi

secret=$(printf 'bench%.0s' {1..10})
declare -A cmd
cmd[axum]="$bin/bare-axum 127.0.0.1:5101"
cmd[phial-default]="env PHIAL_ENV=production PHIAL_SECRET_KEY=$secret $bin/hello run --bind 127.0.0.1:5102"
cmd[phial-layers-off]="env PHIAL_ENV=production PHIAL_SECRET_KEY=$secret PHIAL_TRACE=false PHIAL_CATCH_PANICS=false \
PHIAL_REQUEST_ID__ENABLED=false PHIAL_SECURITY__ENABLED=false PHIAL_SESSION__ENABLED=false PHIAL_CSRF__ENABLED=false \
$bin/hello run --bind 127.0.0.1:5103"
# The defaults with /metrics served (production needs its token): every
# request counted by route and status, with its latency.
cmd[phial-metrics]="env PHIAL_ENV=production PHIAL_SECRET_KEY=$secret PHIAL_METRICS__TOKEN=$secret $bin/hello run --bind 127.0.0.1:5105"
# Bare axum sending the same headers as Phial's defaults (tower-http): what
# the bytes on the wire cost, apart from Phial's machinery.
cmd[axum-same-headers]="$bin/bare-axum 127.0.0.1:5104 --same-headers"
declare -A port=([axum]=5101 [phial-default]=5102 [phial-layers-off]=5103 [axum-same-headers]=5104 [phial-metrics]=5105)
read -r -a variants <<<"${VARIANTS:-axum phial-default phial-metrics phial-layers-off axum-same-headers}"
paths=(/plaintext /json)

results=$(mktemp)
trap 'rm -f "$results"; kill $(jobs -p) 2>/dev/null || true' EXIT

source scripts/bench-lib.sh

for round in $(seq 1 "$ROUNDS"); do
  for v in "${variants[@]}"; do
    taskset -c "$SERVER_CPU" ${cmd[$v]} >/dev/null 2>&1 &
    pid=$!
    wait_ready "http://127.0.0.1:${port[$v]}/plaintext"
    for p in "${paths[@]}"; do
      out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:${port[$v]}$p")
      rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
      p99=$(pct_us 99 <<<"$out")
      echo "$v $p $rps $p99 $round" >>"$results"
      echo "round $round  $v $p: $rps req/s, p99 ${p99} us" >&2
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

echo
echo "wrk -t1 -c$CONNS -d$DURATION, median of $ROUNDS round(s); server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
printf '%-18s %-11s %12s %10s %16s %12s %12s\n' variant path "req/s" "p99 (us)" "ratio vs axum*" "best req/s" "best ratio"
for p in "${paths[@]}"; do
  for v in "${variants[@]}"; do
    rps=$(awk -v v="$v" -v p="$p" '$1 == v && $2 == p { print $3 }' "$results" | median)
    p99=$(awk -v v="$v" -v p="$p" '$1 == v && $2 == p { print $4 }' "$results" | median)
    # The ratio is taken within each round (the variants ran back to back),
    # then the median over rounds: the machine's drift between rounds cancels.
    ratio=$(awk -v v="$v" -v p="$p" '$2 == p && $1 == "axum" { b[$5] = $3 } $2 == p && $1 == v { r[$5] = $3 }
      END { for (k in r) if (b[k] > 0) printf "%.4f\n", r[k] / b[k] }' "$results" | sort -n |
      awk '{ a[NR] = $1 } END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    best=$(awk -v v="$v" -v p="$p" '$1 == v && $2 == p && $3 > m { m = $3 } END { print m }' "$results")
    best_base=$(awk -v p="$p" '$1 == "axum" && $2 == p && $3 > m { m = $3 } END { print m }' "$results")
    best_ratio=$(awk -v a="$best" -v b="$best_base" 'BEGIN { printf "%.3f", a / b }')
    printf '%-18s %-11s %12s %10s %16s %12s %12s\n' "$v" "$p" "$rps" "$p99" "$ratio" "$best" "$best_ratio"
  done
done
echo "* median over rounds of (variant req/s / bare axum req/s in the same round)."
echo "  This VM drifts between a fast and a slow mode (~20%); the best run of each"
echo "  variant is the least disturbed figure, and its ratio the steadiest."
