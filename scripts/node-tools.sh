#!/usr/bin/env bash
# The JavaScript tools the Socket.IO tests drive: the official client
# (socket.io-client from npm), run by node. Installed outside the clone
# (PHIAL_NODE_TOOLS, default ~/.cache/phial-node), where the tests look;
# pinned, so a run tomorrow checks what a run today did.
#
#   scripts/node-tools.sh        # install or update, then print the versions
set -euo pipefail

dir="${PHIAL_NODE_TOOLS:-$HOME/.cache/phial-node}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm (Debian packages)" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p "$dir"
if [[ ! -f "$dir/package.json" ]]; then
  echo '{"name":"phial-node-tools","private":true}' >"$dir/package.json"
fi
npm install --prefix "$dir" --no-audit --no-fund --silent "socket.io-client@4.8.1"
echo "node $(node --version), socket.io-client $(node -p "require('$dir/node_modules/socket.io-client/package.json').version")"
