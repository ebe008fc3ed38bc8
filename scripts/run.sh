#!/usr/bin/env bash
# README's two commands run through this script (`npm start` and `npm test`), so each works on a
# fresh machine whatever Node.js it has: it sets up what the command needs — every step cached
# outside the repository and skipped once done — and then runs it with the pinned Node first on
# PATH.
#   1. the pinned Node.js of .nvmrc (scripts/setup-node.sh; from the npm registry when missing)
#   2. `npm ci` when node_modules is missing or older than package-lock.json
#   3. the local control plane (e2e/controlplane/build.sh; a cold build takes 15-30 minutes)
#   4. tests only: the other tools the suite starts (HAProxy, PostgreSQL, Python tools, helm/kubeconform,
#      the S3 server, the small language model, tmux), each by its own idempotent script
#
# usage: bash scripts/run.sh start [SANDBOX FLAGS...]   threatmesh sandbox (npm start -- FLAGS)
#        bash scripts/run.sh test [FILES or node --test FLAGS...]
#                                                      the whole suite, or only what is named
#        bash scripts/run.sh setup [start|test]        only the setup
# Setting THREATMESH_SKIP_TOOLS=1 skips step 4 (a run of unit tests only).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] FAILED: %s\n' "$*" >&2; exit 1; }

need_system_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing $1 (apt-get)"
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends "$1") >&2 || die "apt-get install $1"
  else
    die "$1 is not installed: install it with your package manager (e.g. sudo apt-get install -y $1), then run the command again"
  fi
}

setup_node() {
  # shellcheck source=setup-node.sh
  . scripts/setup-node.sh || die "installing the pinned Node.js $(cat .nvmrc) (scripts/setup-node.sh); is the npm registry reachable?"
}

# npm writes node_modules/.package-lock.json at the end of every install: older than the
# manifests means a dependency changed since (a pull, a branch switch, an edit).
setup_modules() {
  local hidden=node_modules/.package-lock.json
  if [ -f "$hidden" ] && [ ! package-lock.json -nt "$hidden" ]; then
    return 0
  fi
  if [ -d node_modules ]; then say "node_modules is older than package-lock.json: npm ci"; else say "node_modules is missing: npm ci (once; about a minute)"; fi
  npm ci --no-audit --no-fund >&2 || die "npm ci (see the npm error above)"
}

setup_controlplane() {
  say "local control plane: build once or reuse the cache (a cold build takes 15-30 minutes on 2 cores)"
  bash e2e/controlplane/build.sh build >/dev/null || die "the control plane build (see the 'CONTROLPLANE BUILD FAILED at step' line above)"
}

setup_test_tools() {
  [ "${THREATMESH_SKIP_TOOLS:-}" = 1 ] && return 0
  need_system_tool curl
  bash scripts/install-haproxy.sh >&2 || die "HAProxy (scripts/install-haproxy.sh)"
  bash scripts/install-postgresql.sh >&2 || die "PostgreSQL (scripts/install-postgresql.sh)"
  bash scripts/install-tmux.sh >&2 || die "tmux (scripts/install-tmux.sh)"
  bash scripts/install-faketime.sh >&2 || die "libfaketime (scripts/install-faketime.sh)"
  command -v python3 >/dev/null 2>&1 || need_system_tool python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || need_system_tool python3-venv
  bash scripts/python-tools.sh >/dev/null || die "the Python test tools (scripts/python-tools.sh)"
  bash scripts/tools.sh install >/dev/null || die "the deployment tools (scripts/tools.sh install)"
  bash e2e/s3/build.sh build >/dev/null || die "the S3 server (e2e/s3/build.sh)"
  bash e2e/llm/build.sh build >/dev/null || die "the small language model (e2e/llm/build.sh)"
}

setup() {
  setup_node
  setup_modules
  need_system_tool openssl
  setup_controlplane
  if [ "$1" = test ]; then setup_test_tools; fi
  say "set up: node $(node --version) ($(command -v node))"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    setup start
    exec node operator/src/main.ts sandbox "$@"
    ;;
  test)
    setup test
    if [ $# -eq 0 ]; then exec npm run --silent test:suite; fi
    exec node --test --test-concurrency=1 --test-timeout=900000 "$@"
    ;;
  setup)
    setup "${1:-test}"
    ;;
  *)
    die "usage: bash scripts/run.sh start|test|setup [ARGS...] (README's 'npm start' and 'npm test' call it)"
    ;;
esac
