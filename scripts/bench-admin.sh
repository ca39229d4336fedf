#!/usr/bin/env bash
# The admin's list page on PostgreSQL at 1,000 and 1,000,000 rows (first
# page sorted by an indexed column; with search terms), in-process, pinned
# to one core. PHIAL_BENCH_PG points at the database (default: the local
# `test` database). Drops and recreates its own tables there.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-1000,1000000}"
REPEAT="${REPEAT:-50}"
cargo build --release -q -p phial-bench --bin admin
bin="${CARGO_TARGET_DIR:-target}/release/admin"
exec taskset -c 1 "$bin" "$SIZES" "$REPEAT"
