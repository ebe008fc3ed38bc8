#!/usr/bin/env bash
# Installs the pinned Python tools of scripts/python-tools.requirements.txt (OASIS stix2-validator,
# taxii2-client, suricataparser, idstools) into a virtualenv cached outside the repository, keyed
# by the requirements' hash, and prints the virtualenv's bin directory. Idempotent: a second run
# only prints the path. Tests call it (or read THREATMESH_PYTHON_TOOLS); CI runs it once up front.
#   bash scripts/python-tools.sh          # prints e.g. ~/.cache/threatmesh/python/tools-1a2b3c4d/bin
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
req="$root/scripts/python-tools.requirements.txt"
cache=${THREATMESH_CACHE:-$HOME/.cache/threatmesh}
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "python-tools: python3 is required (apt-get install python3 python3-venv)" >&2; exit 1; }
key=$( (cat "$req"; "$py" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
venv="$cache/python/tools-$key"
if [ ! -f "$venv/.complete" ]; then
  mkdir -p "$cache/python"
  exec 9>"$cache/python/.lock-$key"
  flock 9
  if [ ! -f "$venv/.complete" ]; then
    echo "python-tools: installing $(grep -cv '^#' "$req") packages into $venv" >&2
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2 || { echo "python-tools: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 || { echo "python-tools: pip install failed; is PyPI reachable?" >&2; exit 1; }
    touch "$venv/.complete"
  fi
fi
echo "$venv/bin"
