#!/usr/bin/env bash
# Builds the S3-compatible object store the object-storage tests run against: the Versity S3
# Gateway (versitygw, Apache-2.0), a production S3 server that serves a POSIX directory and
# checks AWS Signature V4 on every request. Pinned, built from the Go module proxy with
# `go install`, into a cache outside the repository; a second run returns at once.
#
# usage: e2e/s3/build.sh [--cache DIR] [build|path]
#   --cache DIR  cache root (default $THREATMESH_CACHE, else ~/.cache/threatmesh)
#   build  (default) build when missing, print the binary path (last line)
#   path   print the binary path, build nothing
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
GO_PINNED=go1.26.8   # the same compiler as e2e/controlplane/build.sh (part of the cache key)

here="$(cd "$(dirname "$0")" && pwd)"
cache="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}"
if [ "${1:-}" = "--cache" ]; then
  [ -n "${2:-}" ] || { echo "build.sh: --cache needs a directory" >&2; exit 2; }
  cache="$2"; shift 2
fi
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0
export GOTOOLCHAIN="$GO_PINNED"

step() { printf '==> [s3 build] %s\n' "$*" >&2; }
fail() { printf 'S3 SERVER BUILD FAILED at step: %s\n' "$*" >&2; exit 1; }

out="$cache/s3/versitygw-${VERSITYGW_VERSION}-${GO_PINNED}/versitygw"

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
  if [ -x "$out" ]; then step "versitygw: cached at $out"; echo "$out"; return; fi
  find_go
  mkdir -p "$(dirname "$out")"
  exec {lock}>"$(dirname "$out")/.lock"
  if command -v flock >/dev/null; then
    flock -n "$lock" || { step "versitygw: another build is running; waiting for it"; flock "$lock"; }
  fi
  if [ ! -x "$out" ]; then
    local start tmp; start=$(date +%s); tmp="$(mktemp -d)"
    step "versitygw ${VERSITYGW_VERSION}: go install (cold: a few minutes on 2 cores)"
    GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" \
      || fail "go install github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION} (is the Go module proxy reachable?)"
    mv "$tmp/versitygw" "$out" && rm -rf "$tmp"
    step "versitygw: built in $(( $(date +%s) - start ))s -> $out"
  fi
  exec {lock}>&-
  echo "$out"
}

case "${1:-build}" in
  build) build ;;
  path) echo "$out" ;;
  *) fail "unknown command '${1}' (use build or path)" ;;
esac
