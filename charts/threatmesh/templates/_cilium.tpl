{{/* CiliumNetworkPolicy rules; the same rules as cdk8s/lib/cilium.ts policySpec() (order aside). */}}

{{/* Ports block: list of port numbers. */}}
{{- define "threatmesh.cnp.ports" -}}
toPorts:
  - ports:
      {{- range . }}
      - port: {{ . | quote }}
        protocol: TCP
      {{- end }}
{{- end }}

{{/* Pods of a component: (list $ "to"|"from" component ports). */}}
{{- define "threatmesh.cnp.pods" -}}
{{- $ := index . 0 }}
- {{ index . 1 }}Endpoints:
    - matchLabels:
        {{- if eq (index . 2) "mongodb" }}
        app: threatmesh-mongodb-svc
        {{- else }}
        {{- include "threatmesh.selector" (index . 2) | nindent 8 }}
        {{- end }}
        k8s:io.kubernetes.pod.namespace: {{ $.Values.namespace }}
  {{- include "threatmesh.cnp.ports" (index . 3) | nindent 2 }}
{{- end }}

{{/* A Cilium entity: (list "to"|"from" entity ports). */}}
{{- define "threatmesh.cnp.entity" -}}
- {{ index . 0 }}Entities:
    - {{ index . 1 }}
  {{- include "threatmesh.cnp.ports" (index . 2) | nindent 2 }}
{{- end }}

{{/* CIDRs: (list "to"|"from" cidrs ports); nothing for no CIDRs. */}}
{{- define "threatmesh.cnp.cidrs" -}}
{{- if index . 1 }}
- {{ index . 0 }}CIDR:
    {{- toYaml (index . 1) | nindent 4 }}
  {{- include "threatmesh.cnp.ports" (index . 2) | nindent 2 }}
{{- end }}
{{- end }}

{{/* An external endpoint from values (fqdns, cidrs, port), egress. */}}
{{- define "threatmesh.cnp.external" -}}
{{- if .fqdns }}
- toFQDNs:
    {{- range .fqdns }}
    {{- if contains "*" . }}
    - matchPattern: {{ . | quote }}
    {{- else }}
    - matchName: {{ . }}
    {{- end }}
    {{- end }}
  {{- include "threatmesh.cnp.ports" (list .port) | nindent 2 }}
{{- end }}
{{- include "threatmesh.cnp.cidrs" (list "to" .cidrs (list .port)) }}
{{- end }}

{{- define "threatmesh.cnp.dns" -}}
- toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s:k8s-app: kube-dns
  toPorts:
    - ports:
        - port: "53"
          protocol: UDP
        - port: "53"
          protocol: TCP
      rules:
        dns:
          - matchPattern: "*"
{{- end }}

{{/* Prometheus scraping a port. */}}
{{- define "threatmesh.cnp.prometheus" -}}
- fromEndpoints:
    - matchLabels:
        app.kubernetes.io/name: prometheus
        k8s:io.kubernetes.pod.namespace: monitoring
  {{- include "threatmesh.cnp.ports" (list .) | nindent 2 }}
{{- end }}

{{/* A policy: (list $ component ingressText egressText). */}}
{{- define "threatmesh.cnp" -}}
{{- $ := index . 0 }}
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  labels:
    {{- include "threatmesh.labels" (list $ "network") | nindent 4 }}
  name: threatmesh-{{ index . 1 }}
  namespace: {{ $.Values.namespace }}
spec:
  description: "ThreatMesh {{ index . 1 }}: default deny; allows only the flows of docs/deploy.md"
  {{- if trim (index . 3) }}
  egress:
    {{- index . 3 | nindent 4 }}
  {{- end }}
  enableDefaultDeny:
    egress: true
    ingress: true
  endpointSelector:
    matchLabels:
      {{- if eq (index . 1) "mongodb" }}
      app: threatmesh-mongodb-svc
      {{- else }}
      {{- include "threatmesh.selector" (index . 1) | nindent 6 }}
      {{- end }}
  {{- if trim (index . 2) }}
  ingress:
    {{- index . 2 | nindent 4 }}
  {{- end }}
{{- end }}
