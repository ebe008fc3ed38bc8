#!/usr/bin/env bash
# kind target of the ThreatMesh journeys: builds the image (docker build), creates one kind
# cluster per party, installs Cilium, cert-manager and the ThreatMesh CRDs, installs the chart
# for the sequencer and two partners, then runs the same journey tests against those clusters
# (the journeys read KUBECONFIG / MONGODB_URI like every integration test).
# Needs docker, kind, kubectl, helm. Here (no container engine) the same journeys run against the
# local control plane: `npm run test:e2e`.
#   usage: e2e/kind/run.sh [up|test|down]
set -euo pipefail
cd "$(dirname "$0")/../.."
PARTIES=(sequencer partner-a partner-b)
IMAGE=ghcr.io/threatmesh/threatmesh:kind
up() {
  docker build -t "$IMAGE" .
  for p in "${PARTIES[@]}"; do
    kind create cluster --name "tm-$p" --config e2e/kind/kind-config.yaml
    kind load docker-image "$IMAGE" --name "tm-$p"
    helm repo add cilium https://helm.cilium.io >/dev/null && helm upgrade --install cilium cilium/cilium -n kube-system --kube-context "kind-tm-$p" --wait
    helm repo add jetstack https://charts.jetstack.io >/dev/null && helm upgrade --install cert-manager jetstack/cert-manager -n cert-manager --create-namespace --set crds.enabled=true --kube-context "kind-tm-$p" --wait
    kubectl --context "kind-tm-$p" apply -f crds/
    role=partner; [ "$p" = sequencer ] && role=sequencer
    helm upgrade --install threatmesh charts/threatmesh --kube-context "kind-tm-$p" -n threatmesh --create-namespace \
      --set role="$role" --set partnerId="$p" --set image.repository="${IMAGE%:*}" --set image.tag=kind \
      --set ceph.enabled=false --set monitoring.enabled=false --set mongodb.enabled=false --set haproxy.serviceType=NodePort
  done
}
test_() { for p in "${PARTIES[@]}"; do KUBECONFIG="$(kind get kubeconfig-path --name "tm-$p" 2>/dev/null || echo "$HOME/.kube/config")" npm run test:e2e; done; }
down() { for p in "${PARTIES[@]}"; do kind delete cluster --name "tm-$p"; done; }
case "${1:-up}" in up) up ;; test) test_ ;; down) down ;; *) echo "usage: $0 [up|test|down]" >&2; exit 2 ;; esac
