#!/usr/bin/env bash
# nginx, for the test that puts the shipped examples/blog/deploy/nginx.conf
# in front of three blog nodes (examples/blog/tests/nodes.rs). Debian's
# package; the test runs its own instance on a loopback port with a
# config of its own, so the package's service is never started.
#
#   scripts/nginx-tools.sh        # install if missing, then print the version
set -euo pipefail

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  echo "installing nginx (Debian package)" >&2
  apt-get update -qq
  # Installing must not start the packaged service on port 80.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
PATH="$PATH:/usr/sbin" nginx -v 2>&1
