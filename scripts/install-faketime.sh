#!/usr/bin/env bash
# Installs libfaketime from Debian's `faketime` package when it is not installed yet (idempotent).
# `npm run chaos` runs partner operators under its LD_PRELOAD library to skew a partner's clock
# while it runs, and the clear-failure tests sign an already expired certificate with `faketime`.
# Prints nothing when it is there already.
set -euo pipefail
have() { command -v faketime >/dev/null 2>&1 && ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; }
have && exit 0
. "$(dirname "$0")/lib/debian.sh"
debian_install faketime "install libfaketime (the faketime command and libfaketime.so.1) with your package manager"
have
