#!/usr/bin/env bash
# Builds and tests the app of README.md's "Your own app" section in a
# temporary folder outside the workspace, depending on this checkout by
# path, so the section stays true. Each file is the fenced block after an
# `<!-- own-app: PATH -->` marker. CI runs it; so can you:
#
#   scripts/own-app.sh            # build and test
#   KEEP=1 scripts/own-app.sh     # and keep the folder (its path is printed)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/phial-own-app.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$dir"' EXIT

# Write every marked block to its file.
awk -v out="$dir" '
  /^<!-- own-app: .* -->$/ { path = $3; next }
  path != "" && /^```/ && !inside { inside = 1; file = out "/" path; system("mkdir -p \"$(dirname \"" file "\")\""); printf "" > file; next }
  inside && /^```/ { inside = 0; path = ""; close(file); next }
  inside { print >> file }
' "$root/README.md"
for f in Cargo.toml src/lib.rs src/main.rs tests/app.rs templates/index.html; do
  [ -s "$dir/$f" ] || { echo "own-app: README.md has no block for $f" >&2; exit 1; }
done
# Depend on this checkout; pin the versions the workspace was tested with.
sed -i "s|path = \"../phial\"|path = \"$root\"|" "$dir/Cargo.toml"
printf '\n[workspace]\n' >> "$dir/Cargo.toml"
cp "$root/Cargo.lock" "$dir/Cargo.lock"
echo "own-app: building the README's app in $dir"
cd "$dir"
cargo test --quiet
