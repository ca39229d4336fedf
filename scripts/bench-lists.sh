#!/usr/bin/env bash
# Lists whose cost does not grow: the blog as shipped on PostgreSQL at
# 1,000 and 1,000,000 posts (admin first page, REST list pages, searches,
# a foreign-key filter, a post's page), in-process, pinned to one core.
# PHIAL_BENCH_PG names the server (default: the local `test` database); the
# benchmark makes and drops its own database there.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-1000,1000000}"
REPEAT="${REPEAT:-25}"
cargo build --release -q -p phial-bench --bin lists
bin="${CARGO_TARGET_DIR:-target}/release/lists"
exec taskset -c 1 "$bin" "$SIZES" "$REPEAT"
