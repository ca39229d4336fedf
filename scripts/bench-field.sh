#!/usr/bin/env bash
# The blog against the field, in one run on this machine: the same
# endpoints in `blog` (Phial, as deployed: production profile, metrics on),
# a bare axum + sea-orm server (phial-bench's `field-axum`) and Flask under
# gunicorn's gthread worker (installed from PyPI into a virtual environment
# outside the clone). Prints requests/s and p99 latency per endpoint, peak
# memory idle and under load, start-to-first-response, and the ratios; then
# the Flask overview's async table (three 100 ms PostgreSQL queries, one
# after another and joined) for the blog and Flask. Run on demand (not in
# CI):
#
#   scripts/bench-field.sh                       # 3 rounds of 10 s per case
#   ROUNDS=1 DURATION=3s scripts/bench-field.sh  # a quick look
#   SERVERS="blog axum" ASYNC=0 scripts/bench-field.sh
#
# Every server gets its own copy of one SQLite database, migrated by the
# blog and filled with 30 posts (24 published); the REST list is the
# blog's generated `GET /api/posts` with its cache off (`rest.cache =
# false`) so that all three query, while `/field/cached` compares caches.
# The server is pinned to one core and wrk to the other (taskset); the
# servers are interleaved within each round and each figure is the median
# over the rounds.
#
# Environment: DURATION, CONNS (64), ROUNDS (3), SERVER_CPU (0),
# CLIENT_CPU (1), FLASK_WORKERS (3: gunicorn's 2 × cores + 1 for the one
# core it gets), FLASK_THREADS (4), IO_DURATION (5s), ASYNC (1: run the
# async table when PostgreSQL answers), PHIAL_FIELD_POSTGRES (the server,
# default postgres://postgres@127.0.0.1:5432), PHIAL_FIELD_VENV (default
# ~/.cache/phial-field-venv), PROFILE (dist: the cargo profile the
# Dockerfile builds, release with whole-program LTO; `release` for
# `cargo build --release`), BIN_DIR (binaries built elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

DURATION=${DURATION:-10s}
IO_DURATION=${IO_DURATION:-5s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
FLASK_WORKERS=${FLASK_WORKERS:-3}
FLASK_THREADS=${FLASK_THREADS:-4}
ASYNC=${ASYNC:-1}
PROFILE=${PROFILE:-dist}
pg=${PHIAL_FIELD_POSTGRES:-postgres://postgres@127.0.0.1:5432}
venv=${PHIAL_FIELD_VENV:-$HOME/.cache/phial-field-venv}
read -r -a servers <<<"${SERVERS:-blog axum flask}"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [[ ! -x "$venv/bin/pip" ]]; then
  python3 -m venv "$venv" 2>/dev/null || {
    echo "python3 -m venv failed: installing python3-venv (Debian package)" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/field_flask/requirements.txt

if [[ -n "${BIN_DIR:-}" ]]; then
  bin=$BIN_DIR
else
  cargo build --profile "$PROFILE" -q -p blog -p phial-bench --bin blog --bin field-axum --bin first-response
  target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  bin="$target_dir/$PROFILE"
fi

work=$(mktemp -d /tmp/phial-field.XXXXXX)
results=$work/results
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the database: migrated by the blog, then 30 posts by one author ------
mkdir -p "$work/seed"
(cd "$work/seed" && PHIAL_DATABASE__URL="sqlite://$work/seed/blog.sqlite" "$bin/blog" db upgrade >/dev/null)
"$venv/bin/python" - "$work/seed/blog.sqlite" <<'EOF'
import datetime, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
author = db.execute(
    "INSERT INTO author (name, email, password_hash) VALUES ('Ada', 'ada@example.com', '')"
).lastrowid
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
for i in range(30):
    db.execute(
        "INSERT INTO post (author_id, title, body, published, created_at) VALUES (?, ?, ?, ?, ?)",
        (
            author,
            f"Post number {i + 1}: notes from the field",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8,
            i % 5 != 4,
            (start + datetime.timedelta(hours=i)).isoformat(timespec="microseconds"),
        ),
    )
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
EOF
for s in blog axum flask; do
  mkdir -p "$work/$s"
  cp "$work/seed/blog.sqlite" "$work/$s/blog.sqlite"
done

secret=$(printf 'field%.0s' {1..10})
declare -A port=([blog]=5301 [axum]=5302 [flask]=5303)
declare -A cmd
# The blog as deployed (deploy/production.toml's profile, metrics served
# behind their token), on the SQLite copy.
cmd[blog]="env PHIAL_ENV=production PHIAL_SECRET_KEY=$secret PHIAL_METRICS__TOKEN=$secret \
PHIAL_BLOG__API_TOKEN=$secret PHIAL_DATABASE__URL=sqlite://$work/blog/blog.sqlite PHIAL_REST__CACHE=false \
$bin/blog run --bind 127.0.0.1:${port[blog]}"
cmd[axum]="$bin/field-axum 127.0.0.1:${port[axum]} $work/axum/blog.sqlite"
cmd[flask]="env FIELD_SQLITE=$work/flask/blog.sqlite FIELD_TEMPLATES=$root/examples/blog/templates \
FIELD_THREADS=$FLASK_THREADS $venv/bin/gunicorn -k gthread --workers $FLASK_WORKERS --threads $FLASK_THREADS \
--chdir $root/bench/field_flask --bind 127.0.0.1:${port[flask]} app:app"

names=("plaintext" "JSON" "one row" "12-row template" "cached page" "REST list")
paths=(/field/plaintext /field/json /field/posts/1 /field/posts /field/cached "/api/posts?per_page=12&sort=-created_at")

source scripts/bench-lib.sh

# The server and its children (a gunicorn master and its workers).
tree() {
  echo "$1"
  local c
  for c in $(pgrep -P "$1" || true); do tree "$c"; done
}

# The sum over the tree of one /proc status field (VmRSS, VmHWM), in KiB.
mem_kib() {
  local sum=0 p v
  for p in $(tree "$1"); do
    v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}


stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Every server must answer every endpoint the same way before it is timed.
check() {
  local s=$1 base="http://127.0.0.1:${port[$1]}" p body rows
  for p in "${paths[@]}"; do
    body=$(curl -fsS "$base$p") || { echo "$s: GET $p failed" >&2; return 1; }
    case $p in
    /field/posts | /field/cached)
      rows=$(grep -c '<tr><td>' <<<"$body" || true)
      [[ $rows == 12 ]] || { echo "$s: $p shows $rows rows, not 12" >&2; return 1; } ;;
    /api/*)
      grep -q '"total": *24' <<<"$body" || { echo "$s: $p does not count 24 published posts: $body" >&2; return 1; } ;;
    esac
  done
}

echo "servers: ${servers[*]}; $ROUNDS round(s) of $DURATION per endpoint, $CONNS connections;" \
  "server on core $SERVER_CPU, wrk on core $CLIENT_CPU; flask: $FLASK_WORKERS workers x $FLASK_THREADS threads" >&2
for round in $(seq 1 "$ROUNDS"); do
  for s in "${servers[@]}"; do
    (cd "$work/$s" && exec taskset -c "$SERVER_CPU" ${cmd[$s]}) >"$work/$s.log" 2>&1 &
    pid=$!
    wait_ready "http://127.0.0.1:${port[$s]}/field/plaintext"
    check "$s"
    echo "$round $s idle_kib $(mem_kib "$pid" VmRSS)" >>"$results"
    for i in "${!paths[@]}"; do
      out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:${port[$s]}${paths[$i]}")
      rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
      if grep -q "Non-2xx" <<<"$out"; then
        echo "$s ${paths[$i]}: non-2xx answers under load" >&2
        grep "Non-2xx" <<<"$out" >&2
        exit 1
      fi
      echo "$round $s rps$i $rps" >>"$results"
      echo "$round $s p99_$i $(pct_us 99 <<<"$out")" >>"$results"
      echo "  round $round $s ${names[$i]}: $rps req/s" >&2
    done
    echo "$round $s peak_kib $(mem_kib "$pid" VmHWM)" >>"$results"
    stop "$pid"
    ms=$(cd "$work/$s" && "$bin/first-response" "http://127.0.0.1:${port[$s]}/field/plaintext" -- taskset -c "$SERVER_CPU" ${cmd[$s]})
    echo "$round $s first_ms $ms" >>"$results"
  done
done

# The median of one series over the rounds.
median() {
  awk -v s="$1" -v k="$2" '$2 == s && $3 == k { print $4 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The median over the rounds of one round's ratio a / b (the servers of a
# round ran minutes apart, not hours: drift cancels out of the ratio).
ratio() {
  awk -v a="$1" -v b="$2" -v k="$3" '$3 == k && $2 == a { x[$1] = $4 } $3 == k && $2 == b { y[$1] = $4 }
    END { for (r in x) if ((r in y) && y[r] > 0) print x[r] / y[r] }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ms() { awk -v u="$1" 'BEGIN { if (u == "-") print "-"; else printf "%.1f", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }
has() { [[ " ${servers[*]} " == *" $1 "* ]]; }

echo
echo "req/s and p99 latency: medians over $ROUNDS round(s); ratios: the median of each round's ratio"
echo
echo "| endpoint | blog req/s | p99 ms | axum + sea-orm req/s | p99 ms | Flask req/s | p99 ms | blog / axum | blog / Flask |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for i in "${!paths[@]}"; do
  b=$(median blog "rps$i") a=$(median axum "rps$i") f=$(median flask "rps$i")
  echo "| ${names[$i]} \`${paths[$i]}\` | $b | $(ms "$(median blog "p99_$i")") | $a | $(ms "$(median axum "p99_$i")") |" \
    "$f | $(ms "$(median flask "p99_$i")") | $(ratio blog axum "rps$i") | $(ratio blog flask "rps$i") |"
done
echo
echo "| server | RSS idle MiB | peak RSS under load MiB | start to first response ms |"
echo "|---|---:|---:|---:|"
for s in blog axum flask; do
  has "$s" || continue
  label=$s
  [[ $s == axum ]] && label="axum + sea-orm"
  [[ $s == flask ]] && label="Flask ($FLASK_WORKERS gthread workers x $FLASK_THREADS threads, summed)"
  echo "| $label | $(mib "$(median "$s" idle_kib)") | $(mib "$(median "$s" peak_kib)") | $(median "$s" first_ms) |"
done

# --- the async table ---------------------------------------------------------
[[ $ASYNC == 1 ]] || exit 0
if ! command -v psql >/dev/null || ! psql "$pg/postgres" -qtAc 'SELECT 1' >/dev/null 2>&1; then
  echo
  echo "SKIPPED the async table: PostgreSQL does not answer at $pg (set PHIAL_FIELD_POSTGRES; psql is needed)" >&2
  exit 0
fi
io_db=phial_field
if [[ "$(psql "$pg/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$io_db'")" != 1 ]]; then
  psql "$pg/postgres" -qc "CREATE DATABASE \"$io_db\"" >/dev/null
fi
(cd "$work/seed" && PHIAL_DATABASE__URL="$pg/$io_db" "$bin/blog" db upgrade >/dev/null)
IO_POOL=$((2 * 8 * 3))
declare -A io_port=([blog]=5311 [flask]=5313)
declare -A io_cmd
# The blog's pool holds as many connections as Flask's async view can open
# at once (16 threads x 3 queries), so neither is short of connections.
io_cmd[blog]="env PHIAL_ENV=production PHIAL_SECRET_KEY=$secret PHIAL_BLOG__API_TOKEN=$secret \
PHIAL_DATABASE__URL=$pg/$io_db PHIAL_DATABASE__MAX_CONNECTIONS=$IO_POOL $bin/blog run --bind 127.0.0.1:${io_port[blog]}"
io_cmd[flask]="env FIELD_SQLITE=$work/flask/blog.sqlite FIELD_TEMPLATES=$root/examples/blog/templates \
FIELD_POSTGRES=${pg/postgres:/postgresql:}/$io_db FIELD_THREADS=8 \
$venv/bin/gunicorn -k gthread --workers 2 --threads 8 --chdir $root/bench/field_flask --bind 127.0.0.1:${io_port[flask]} app:app"
io_pages=(sequential joined)
echo "async table: $ROUNDS round(s); 1 client for $IO_DURATION, then $CONNS clients for $IO_DURATION" >&2
for round in $(seq 1 "$ROUNDS"); do
  for s in blog flask; do
    (cd "$work/$s" && exec taskset -c "$SERVER_CPU" ${io_cmd[$s]}) >"$work/$s-io.log" 2>&1 &
    pid=$!
    wait_ready "http://127.0.0.1:${io_port[$s]}/field/plaintext"
    for page in "${io_pages[@]}"; do
      url="http://127.0.0.1:${io_port[$s]}/io/$page"
      curl -fsS -o /dev/null "$url" || { echo "$s: GET /io/$page failed" >&2; exit 1; }
      one=$(taskset -c "$CLIENT_CPU" wrk -t1 -c1 -d"$IO_DURATION" --timeout 10s --latency "$url")
      many=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$IO_DURATION" --timeout 10s --latency "$url")
      if grep -q "Non-2xx\|Socket errors" <<<"$one$many"; then
        echo "$s /io/$page: errors under load" >&2
        grep "Non-2xx\|Socket errors" <<<"$one$many" >&2
        exit 1
      fi
      {
        echo "$round $s io_p50_$page $(pct_us 50 <<<"$one")"
        echo "$round $s io_p99_$page $(pct_us 99 <<<"$one")"
        echo "$round $s io_rps_$page $(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' <<<"$many")"
        echo "$round $s io_p99load_$page $(pct_us 99 <<<"$many")"
      } >>"$results"
      echo "  round $round $s /io/$page done" >&2
    done
    stop "$pid"
  done
done
echo
echo "| page (3 x pg_sleep(0.1)) | 1 client p50 ms | 1 client p99 ms | $CONNS clients req/s | $CONNS clients p99 ms |"
echo "|---|---:|---:|---:|---:|"
for s in blog flask; do
  for page in "${io_pages[@]}"; do
    case $s/$page in
    blog/sequential) label="blog, three awaits in a row (\`/io/sequential\`)" ;;
    blog/joined) label="blog, \`tokio::join!\` (\`/io/joined\`)" ;;
    flask/sequential) label="Flask, sync view" ;;
    flask/joined) label="Flask, \`async def\` + \`asyncio.gather\`" ;;
    esac
    echo "| $label | $(ms "$(median "$s" "io_p50_$page")") | $(ms "$(median "$s" "io_p99_$page")") |" \
      "$(median "$s" "io_rps_$page") | $(ms "$(median "$s" "io_p99load_$page")") |"
  done
done
echo
echo "connections: blog pool $IO_POOL; Flask 2 gthread workers x 8 threads, the sync view's pool 8 a worker (16)," \
  "the async view one connection per query (up to $IO_POOL: a pool cannot outlive Flask's per-request event loop)"
