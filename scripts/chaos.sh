#!/usr/bin/env bash
# The consistency suite: three production `blog` nodes (scripts/blog-nodes.sh)
# on a private PostgreSQL this script starts (initdb on a free port, never
# the machine's shared server) and the local Redis Cluster
# (scripts/redis-cluster.sh), driven by the checker (phial-bench's `chaos`:
# writers, readers, a read-your-writes check after every write) while
# faults are injected on a schedule: a Redis primary killed, a Redis
# primary frozen (DEBUG SLEEP 4), a node SIGTERMed and one SIGKILLed (each
# started again), PostgreSQL restarted. Then the history is checked: stale
# reads by lag, read-your-writes violations, lost acknowledged writes,
# errors inside and outside fault windows, recovery after each fault. It
# prints the report and writes report.md and timeline.svg to OUT; it fails
# when a guarantee broke.
#
#   scripts/chaos.sh                                    # 150 s, debug build
#   DURATION=600 PROFILE=release OUT=docs/chaos scripts/chaos.sh   # the published run
#
# Environment: DURATION (seconds, 150), EVERY (seconds between faults,
# 10), FAULTS (comma-separated kinds, all five), PROFILE (debug|release),
# OUT (default: a folder under /tmp, printed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
DURATION=${DURATION:-150}
EVERY=${EVERY:-10}
FAULTS=${FAULTS:-redis-kill,redis-freeze,node-term,node-kill,pg-restart}
PROFILE=${PROFILE:-debug}
work=$(mktemp -d /tmp/phial-chaos.XXXXXX)
OUT=${OUT:-$work/out}

if [[ "$PROFILE" == release ]]; then
  cargo build -q --release --locked -p blog -p phial-bench --bin blog --bin chaos
else
  cargo build -q --locked -p blog -p phial-bench --bin blog --bin chaos
fi
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin="$target_dir/$PROFILE"

# --- a private PostgreSQL -------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$pgbin/initdb" ]] || { echo "initdb not found (apt-get install postgresql)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
as_pg=()
if [[ $(id -u) == 0 ]]; then
  # PostgreSQL refuses to run as root.
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U postgres -A trust >/dev/null
pg_ctl=("${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w)
"${pg_ctl[@]}" -o "-p $pgport -k $work -c listen_addresses=127.0.0.1" start >/dev/null

ports="$(free_port) $(free_port) $(free_port)"
export PHIAL_NODES_BIN="$bin/blog"
export PHIAL_NODES_PORTS="$ports"
export PHIAL_NODES_DB=chaos
export PHIAL_NODES_PG="postgres://postgres@127.0.0.1:$pgport"
export PHIAL_NODES_DIR="$work/nodes"
export PHIAL_NODES_PREFIX="chaos-$$"

cleanup() {
  "$root/scripts/blog-nodes.sh" stop >/dev/null 2>&1 || true
  "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
  "$root/scripts/redis-cluster.sh" start >/dev/null 2>&1 || true
  if [[ "$OUT" != "$work"* ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

"$root/scripts/blog-nodes.sh" start >/dev/null
echo "chaos: nodes on $ports, PostgreSQL on $pgport, $DURATION s, a fault every $EVERY s ($FAULTS)"

status=0
CHAOS_PORTS="$ports" \
CHAOS_TOKEN="$(cat "$work/nodes/api_token")" \
CHAOS_DB_URL="postgres://postgres@127.0.0.1:$pgport/chaos" \
CHAOS_DURATION="$DURATION" \
CHAOS_FAULT_EVERY="$EVERY" \
CHAOS_FAULTS="$FAULTS" \
CHAOS_NODES_DIR="$work/nodes" \
CHAOS_NODES_SCRIPT="$root/scripts/blog-nodes.sh" \
CHAOS_REDIS_SEED=7100 \
CHAOS_CLUSTER_SCRIPT="$root/scripts/redis-cluster.sh" \
CHAOS_PG_RESTART="$(printf '%q ' "${pg_ctl[@]}") -m fast restart" \
CHAOS_OUT="$OUT" \
  "$bin/chaos" || status=$?
echo "chaos: report and timeline in $OUT"
exit $status
