#!/usr/bin/env bash
# Installs PostgreSQL from Debian's `postgresql` package (15 on Debian 12) when no server is
# installed yet (idempotent). FerretDB's PostgreSQL backend (the local database's default,
# operator/src/dev/controlplane/postgres.ts) runs clusters of its own: one per integration test
# database, one per journey or sandbox network (a database per party), made with initdb in the
# run's directory and listening on 127.0.0.1 only; the package's own service and cluster are
# never used.
set -euo pipefail
have() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id -u postgres >/dev/null 2>&1; }
have && exit 0
. "$(dirname "$0")/lib/debian.sh"
debian_install postgresql "install the PostgreSQL server (version 13 or later, with initdb) with your package manager, or use THREATMESH_FERRETDB_BACKEND=sqlite"
have
