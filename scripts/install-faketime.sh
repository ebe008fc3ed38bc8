#!/usr/bin/env bash
# Installs libfaketime from Debian's `faketime` package when it is not installed yet (idempotent;
# apt keeps its own cache). `npm run chaos` runs partner operators under its LD_PRELOAD library to
# skew a partner's clock while it runs, and the clear-failure tests sign an already expired
# certificate with `faketime`. Prints nothing when it is there already.
set -euo pipefail
if command -v faketime >/dev/null 2>&1 && ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-faketime: libfaketime is not installed and apt-get is not available: install libfaketime (the faketime command and libfaketime.so.1) with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends faketime
command -v faketime >/dev/null 2>&1
