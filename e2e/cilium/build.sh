#!/usr/bin/env bash
# Builds threatmesh-ciliumcheck (e2e/cilium/main.go): Cilium's own policy validation (the
# preflight validator and the agent's parse and sanitize step) from the Go module
# github.com/cilium/cilium at the version of ../shared/crds, so the install tests check the
# rendered CiliumNetworkPolicies and the enforcer's CiliumClusterwideNetworkPolicy with the code
# a Cilium agent runs. Pinned by go.mod/go.sum, built with the same Go as the control plane,
# into a cache outside the repository; a second run returns at once.
# Cold: about 3 CPU-minutes (12 min wall on a loaded 2-core machine) plus the module downloads.
#
# usage: e2e/cilium/build.sh [--cache DIR] [build|path]
#   --cache DIR  cache root (default $THREATMESH_CACHE, else ~/.cache/threatmesh)
#   build  (default) build when missing, print the binary path (last line)
#   path   print the binary path, build nothing
set -euo pipefail

CILIUM_VERSION=v1.20.2   # must match go.mod and ../shared/crds/README.md
GO_PINNED=go1.26.8       # the same compiler as e2e/controlplane/build.sh (part of the cache key)

here="$(cd "$(dirname "$0")" && pwd)"
cache="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}"
if [ "${1:-}" = "--cache" ]; then
  [ -n "${2:-}" ] || { echo "build.sh: --cache needs a directory" >&2; exit 2; }
  cache="$2"; shift 2
fi
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0
export GOTOOLCHAIN="$GO_PINNED"

step() { printf '==> [cilium check build] %s\n' "$*" >&2; }
fail() { printf 'CILIUM CHECK BUILD FAILED at step: %s\n' "$*" >&2; exit 1; }

key="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)"
out="$cache/cilium/ciliumcheck-${CILIUM_VERSION}-${GO_PINNED}-${key}/threatmesh-ciliumcheck"

find_go() {
  if ! command -v go >/dev/null; then
    # The control-plane script installs the pinned Go into the cache when none is on PATH.
    bash "$here/../controlplane/build.sh" --cache "$cache" path >/dev/null || fail "install Go (see e2e/controlplane/build.sh)"
    export PATH="$cache/go/$GO_PINNED/bin:$PATH"
  fi
  local v; v="$(go env GOVERSION)" || fail "run Go: 'go env GOVERSION' failed (GOTOOLCHAIN=$GO_PINNED needs the module proxy once)"
  [ "$v" = "$GO_PINNED" ] || fail "Go version: got $v, want $GO_PINNED"
}

build() {
  if [ -x "$out" ]; then step "cached at $out"; echo "$out"; return; fi
  grep -q "github.com/cilium/cilium $CILIUM_VERSION" "$here/go.mod" || fail "go.mod does not require github.com/cilium/cilium $CILIUM_VERSION"
  find_go
  mkdir -p "$(dirname "$out")"
  exec {lock}>"$(dirname "$out")/.lock"
  if command -v flock >/dev/null; then
    flock -n "$lock" || { step "another build is running; waiting for it"; flock "$lock"; }
  fi
  if [ ! -x "$out" ]; then
    local start; start=$(date +%s)
    step "github.com/cilium/cilium ${CILIUM_VERSION}: go build (cold: minutes on 2 cores)"
    (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$out.tmp" .) \
      || fail "go build in e2e/cilium (is the Go module proxy reachable?)"
    mv "$out.tmp" "$out"
    step "built in $(( $(date +%s) - start ))s -> $out"
  fi
  exec {lock}>&-
  echo "$out"
}

case "${1:-build}" in
  build) build ;;
  path) echo "$out" ;;
  *) fail "unknown command '${1}' (use build or path)" ;;
esac
