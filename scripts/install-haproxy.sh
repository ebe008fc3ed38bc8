#!/usr/bin/env bash
# Installs HAProxy from Debian's `haproxy` package when it is not installed yet (idempotent;
# apt keeps its own cache). The enforcement integration tests and benchmark start it themselves
# on 127.0.0.1 with a generated configuration; the package's own service is never started.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-haproxy: haproxy is not installed and apt-get is not available: install HAProxy >= 2.4 (map versioning) with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d (where present) keeps the package from starting its service; RUNLEVEL=1 does the same elsewhere.
RUNLEVEL=1 apt-get install -y -qq --no-install-recommends haproxy
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]
