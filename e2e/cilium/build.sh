#!/usr/bin/env bash
# Builds threatmesh-ciliumcheck (e2e/cilium/main.go): Cilium's own policy validation (the
# preflight validator and the agent's parse and sanitize step) from the Go module
# github.com/cilium/cilium at the version of ../shared/crds, so the install tests check the
# rendered CiliumNetworkPolicies and the enforcer's CiliumClusterwideNetworkPolicy with the code
# a Cilium agent runs. Pinned by go.mod/go.sum, built with the same Go as the control plane,
# into a cache outside the repository; a second run returns at once.
# Cold: about 3 CPU-minutes (12 min wall on a loaded 2-core machine) plus the module downloads.
#
# usage: e2e/cilium/build.sh [--cache DIR] [build|path]   (see e2e/lib/gotool.sh)
set -euo pipefail

CILIUM_VERSION=v1.20.2   # must match go.mod and ../shared/crds/README.md
GO_PINNED=go1.26.8       # the same compiler as e2e/controlplane/build.sh (part of the cache key)
LABEL="cilium check build"
. "$(dirname "$0")/../lib/gotool.sh"

key="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)"

recipe() {
  grep -q "github.com/cilium/cilium $CILIUM_VERSION" "$here/go.mod" || fail "go.mod does not require github.com/cilium/cilium $CILIUM_VERSION"
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$1" .)
}

gotool_main "$cache/cilium/ciliumcheck-${CILIUM_VERSION}-${GO_PINNED}-${key}/threatmesh-ciliumcheck" "github.com/cilium/cilium ${CILIUM_VERSION}: go build" recipe
