#!/usr/bin/env bash
# The Python tools the REST tests drive: openapi-spec-validator (checks the
# OpenAPI 3.1 document) and schemathesis (fuzzes the API from it). They go
# into a virtualenv outside the clone (PHIAL_VENV, default
# ~/.cache/phial-venv), where the tests look for them; pinned, so a run
# tomorrow checks what a run today did.
#
#   scripts/python-tools.sh        # install or update, then print the versions
set -euo pipefail

venv="${PHIAL_VENV:-$HOME/.cache/phial-venv}"
if [[ ! -x "$venv/bin/pip" ]]; then
  python3 -m venv "$venv" 2>/dev/null || {
    echo "python3 -m venv failed: installing python3-venv (Debian package)" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
"$venv/bin/schemathesis" --version
"$venv/bin/pip" show openapi-spec-validator | sed -n 's/^Version: /openapi-spec-validator /p'
