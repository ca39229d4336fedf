#!/usr/bin/env bash
# The consistency suite: three production `blog` nodes
# (scripts/blog-nodes.sh) behind nginx with the shipped
# examples/blog/deploy/nginx.conf, on a private PostgreSQL this script
# starts (initdb on a free port, never the machine's shared server) and
# the local Redis Cluster (scripts/redis-cluster.sh). The checker
# (phial-bench's `chaos`) puts a proxy between each node and each service
# (so it can cut one node off, or slow it), starts the nodes, and drives
# them — API writers and readers on the nodes, the cached index page and a
# commenter using the post page's form through nginx, Socket.IO watchers
# in a post's room — while it injects faults on a schedule: a Redis
# primary killed, a Redis primary frozen (DEBUG SLEEP 4), a node SIGTERMed
# and one SIGKILLed (each started again), PostgreSQL restarted, one node
# cut off from Redis and one from PostgreSQL, one node's network slowed,
# and a rolling restart of every node. Then the history is checked: stale
# reads by lag, read-your-writes violations, lost acknowledged writes,
# errors inside and outside fault windows (and through nginx during a
# rolling restart), socket events lost or duplicated, recovery after each
# fault. It prints the report and writes report.md and timeline.svg to
# OUT; it fails when a guarantee broke.
#
#   scripts/chaos.sh                                    # 180 s, debug build
#   DURATION=600 PROFILE=release OUT=docs/consistency scripts/chaos.sh   # the published run
#
# Environment: DURATION (seconds, 180), EVERY (seconds between faults,
# 10), FAULTS (comma-separated kinds, default all nine: redis-kill,
# redis-freeze, node-term, node-kill, pg-restart, redis-partition,
# pg-partition, slow-network, rolling-restart), PROFILE (debug|release),
# OUT (default: a folder under /tmp, printed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
DURATION=${DURATION:-180}
EVERY=${EVERY:-10}
FAULTS=${FAULTS:-}
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
front=$(free_port)
export PHIAL_NODES_BIN="$bin/blog"
export PHIAL_NODES_PORTS="$ports"
export PHIAL_NODES_DB=chaos
export PHIAL_NODES_PG="postgres://postgres@127.0.0.1:$pgport"
export PHIAL_NODES_DIR="$work/nodes"
export PHIAL_NODES_PREFIX="chaos-$$"

# --- nginx in front, with the shipped config (no TLS, this run's ports) ---
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$nginx" ]] || { echo "nginx not found (scripts/nginx-tools.sh installs it)" >&2; exit 1; }
mkdir -p "$work/nginx"
chmod 755 "$work" "$work/nginx"
python3 - "$root/examples/blog/deploy/nginx.conf" "$work/nginx" "$front" $ports <<'PY'
import re, sys
shipped, d, front, *ports = sys.argv[1:]
site = open(shipped).read()
# Drop the port-80 redirect, listen on loopback without TLS.
site = re.sub(r"server \{\n    listen 80;.*?\n\}\n", "", site, count=1, flags=re.S)
site = site.replace("    listen 443 ssl;\n", f"    listen 127.0.0.1:{front};\n").replace("    http2 on;\n", "")
site = "".join(l + "\n" for l in site.splitlines() if "ssl_certificate" not in l)
for i, port in enumerate(ports):
    site = site.replace(f"server 127.0.0.1:{5101 + i} ", f"server 127.0.0.1:{port} ")
open(f"{d}/nginx.conf", "w").write(
    f"pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
    f"http {{\naccess_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n"
    f"fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{site}}}\n")
PY

cleanup() {
  # A run that failed keeps the nodes' logs beside its report.
  if [[ ${status:-1} != 0 ]]; then
    mkdir -p "$OUT" && cp "$work"/nodes/node*.log "$OUT/" 2>/dev/null || true
  fi
  [[ -s "$work/nginx/nginx.pid" ]] && kill -TERM "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  "$root/scripts/blog-nodes.sh" stop >/dev/null 2>&1 || true
  "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
  "$root/scripts/redis-cluster.sh" start >/dev/null 2>&1 || true
  if [[ "$OUT" != "$work"* ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

"$root/scripts/redis-cluster.sh" start >/dev/null
"$nginx" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
echo "chaos: nodes on $ports behind nginx on $front, PostgreSQL on $pgport, $DURATION s, a fault every $EVERY s (${FAULTS:-every kind})"

status=0
CHAOS_PORTS="$ports" \
CHAOS_FRONT="$front" \
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
