#!/usr/bin/env bash
# kind target of the ThreatMesh journeys. `up` builds the image (docker build) and creates one
# single-node kind cluster per party (a sequencer and three partners) with the platform the chart
# expects: Cilium (kube-proxy replacement, so the chart's CiliumNetworkPolicies are enforced),
# cert-manager, and the MongoDB Community operator (mongodb-kubernetes) watching the threatmesh
# namespace. `test` runs the journeys with the journey harness's kind target
# (e2e/harness/journey/kind.ts): it installs CRDs, a CA issuer, each party's identity Secrets,
# the chart (helm upgrade --install) and every PartnerNode, waits for the rollouts, then runs the
# same journey code as `npm run test:e2e` does on the local control plane. `down` deletes the clusters.
# Needs docker, kind, kubectl, helm and Node 24 (npm ci done).
#   usage: e2e/kind/run.sh [up|test|down]
# The harness's install half runs without a container engine in e2e/integration/kind-target.test.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
PARTIES=(sequencer partner-a partner-b partner-c)
IMAGE=${THREATMESH_KIND_IMAGE:-ghcr.io/threatmesh/threatmesh:kind}
STATE=${THREATMESH_KIND_STATE:-${RUNNER_TEMP:-/tmp}/threatmesh-kind}
CILIUM_VERSION=1.20.2
CERT_MANAGER_VERSION=v1.21.1
MONGODB_KUBERNETES_VERSION=1.10.0

fail() { printf 'KIND E2E FAILED: %s\n' "$*" >&2; exit 1; }
need() { for t in "$@"; do command -v "$t" >/dev/null || fail "$t is not on PATH (the kind target needs docker, kind, kubectl and helm)"; done; }
kc() { echo "$STATE/$1.kubeconfig"; }

platform() { # party
  local k; k="$(kc "$1")"
  helm upgrade --install cilium cilium/cilium --version "$CILIUM_VERSION" --kubeconfig "$k" -n kube-system \
    --set kubeProxyReplacement=true --set k8sServiceHost="tm-$1-control-plane" --set k8sServicePort=6443 \
    --set ipam.mode=kubernetes --set operator.replicas=1 --wait
  helm upgrade --install cert-manager jetstack/cert-manager --version "$CERT_MANAGER_VERSION" --kubeconfig "$k" \
    -n cert-manager --create-namespace --set crds.enabled=true --wait
  kubectl --kubeconfig "$k" create namespace threatmesh --dry-run=client -o yaml | kubectl --kubeconfig "$k" apply -f -
  helm upgrade --install mongodb-kubernetes mongodb/mongodb-kubernetes --version "$MONGODB_KUBERNETES_VERSION" --kubeconfig "$k" \
    -n mongodb --create-namespace --set operator.watchNamespace=threatmesh --wait
}

up() {
  need docker kind kubectl helm
  mkdir -p "$STATE"
  docker build -t "$IMAGE" .
  helm repo add cilium https://helm.cilium.io --force-update >/dev/null
  helm repo add jetstack https://charts.jetstack.io --force-update >/dev/null
  helm repo add mongodb https://mongodb.github.io/helm-charts --force-update >/dev/null
  for p in "${PARTIES[@]}"; do
    kind get clusters 2>/dev/null | grep -qx "tm-$p" || kind create cluster --name "tm-$p" --config e2e/kind/kind-config.yaml --kubeconfig "$(kc "$p")"
    kind get kubeconfig --name "tm-$p" >"$(kc "$p")"
    kind load docker-image "$IMAGE" --name "tm-$p"
    platform "$p"
  done
}

test_() {
  need docker kubectl helm
  helm version --template '{{.Version}}' | grep -q '^v4\.' || fail "helm 4 is needed (server-side apply installs); found $(helm version --template '{{.Version}}')"
  local configs="" p
  for p in "${PARTIES[@]}"; do
    [ -f "$(kc "$p")" ] || fail "no kubeconfig $(kc "$p"): run '$0 up' first"
    configs+="${configs:+,}$p=$(kc "$p")"
  done
  # The pods reach this machine at the kind network's gateway: the journeys' feed server listens there.
  local gateway; gateway="$(docker network inspect kind -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' | tr ' ' '\n' | grep -m1 '\.')"
  [ -n "$gateway" ] || fail "no IPv4 gateway on the docker network 'kind'"
  THREATMESH_E2E_TARGET=kind THREATMESH_E2E_KUBECONFIGS="$configs" THREATMESH_E2E_IMAGE="$IMAGE" THREATMESH_E2E_FEED_HOST="$gateway" \
    THREATMESH_E2E_HELM="$(command -v helm)" \
    node --test --test-concurrency=1 --test-timeout=1800000 e2e/journeys/network.test.ts e2e/journeys/revocation.test.ts
}

down() { for p in "${PARTIES[@]}"; do kind delete cluster --name "tm-$p" || true; done; rm -rf "$STATE"; }

case "${1:-up}" in up) up ;; test) test_ ;; down) down ;; *) echo "usage: $0 [up|test|down]" >&2; exit 2 ;; esac
