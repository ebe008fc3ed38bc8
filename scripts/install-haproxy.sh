#!/usr/bin/env bash
# Installs HAProxy from Debian's `haproxy` package when it is not installed yet (idempotent).
# The enforcement integration tests and benchmark start it themselves on 127.0.0.1 with a
# generated configuration; the package's own service is never started.
set -euo pipefail
have() { command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; }
have && exit 0
. "$(dirname "$0")/lib/debian.sh"
debian_install haproxy "install HAProxy >= 2.4 (map versioning) with your package manager"
have
