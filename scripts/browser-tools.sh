#!/usr/bin/env bash
# The browser the end-to-end tests drive: Debian's chromium and
# chromium-driver (the tests start chromedriver and run Chromium headless;
# nothing downloads a browser). Installs them when missing.
#
#   scripts/browser-tools.sh     # install if needed, then print the versions
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver (Debian packages)" >&2
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium --version
chromedriver --version
