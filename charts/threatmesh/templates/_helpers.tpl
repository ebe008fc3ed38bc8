{{/* Labels of every object: (list $ "component"). Same as cdk8s/lib/common.ts labels(). */}}
{{- define "threatmesh.labels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/instance: {{ $.Values.partnerId }}
app.kubernetes.io/name: threatmesh
app.kubernetes.io/part-of: threatmesh
{{- end }}

{{/* Selector labels of a component's pods: "component". */}}
{{- define "threatmesh.selector" -}}
app.kubernetes.io/component: {{ . }}
app.kubernetes.io/name: threatmesh
{{- end }}

{{- define "threatmesh.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* Container resources from a values resources block. */}}
{{- define "threatmesh.resources" -}}
limits:
  memory: {{ include "threatmesh.mebibytes" .memoryLimit }}
requests:
  cpu: {{ .cpu }}
  memory: {{ include "threatmesh.mebibytes" .memory }}
{{- end }}

{{/* A memory quantity in Mi, as cdk8s-plus writes it (1Gi -> 1024Mi). */}}
{{- define "threatmesh.mebibytes" -}}
{{- if hasSuffix "Gi" . }}{{ mul (trimSuffix "Gi" . | int) 1024 }}Mi{{ else }}{{ . }}{{ end }}
{{- end }}

{{/* Security context of a ThreatMesh container (uid "65532") or HAProxy ("99"). */}}
{{- define "threatmesh.securityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
privileged: false
readOnlyRootFilesystem: true
runAsGroup: {{ . }}
runAsNonRoot: true
runAsUser: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Deployment spec head (cdk8s-plus defaults): (list $ component replicas). */}}
{{- define "threatmesh.deploymentHead" -}}
minReadySeconds: 0
progressDeadlineSeconds: 600
replicas: {{ index . 2 }}
selector:
  matchLabels:
    {{- include "threatmesh.selector" (index . 1) | nindent 4 }}
strategy:
  rollingUpdate:
    maxSurge: 25%
    maxUnavailable: 25%
  type: RollingUpdate
{{- end }}

{{/* Pod template metadata: (list $ component metricsPort). */}}
{{- define "threatmesh.podMetadata" -}}
annotations:
  prometheus.io/path: /metrics
  prometheus.io/port: {{ index . 2 | quote }}
  prometheus.io/scrape: "true"
labels:
  {{- include "threatmesh.labels" (list (index . 0) (index . 1)) | nindent 2 }}
{{- end }}

{{/* Pod spec fields cdk8s-plus sets on every pod. */}}
{{- define "threatmesh.podDefaults" -}}
dnsPolicy: ClusterFirst
hostNetwork: false
restartPolicy: Always
securityContext:
  fsGroupChangePolicy: Always
  runAsNonRoot: true
setHostnameAsFQDN: false
terminationGracePeriodSeconds: 30
{{- end }}

{{/* An HTTP GET probe: (list path port [scheme]); scheme HTTP unless given. */}}
{{- define "threatmesh.probe" -}}
failureThreshold: 3
httpGet:
  path: {{ index . 0 }}
  port: {{ index . 1 }}
  scheme: {{ if gt (len .) 2 }}{{ index . 2 }}{{ else }}HTTP{{ end }}
{{- end }}

{{/* MONGODB_URI (and the replica set's CA) env of processes that use MongoDB. */}}
{{- define "threatmesh.mongoEnv" -}}
- name: MONGODB_URI
  valueFrom:
    secretKeyRef:
      key: connectionString.standard
      name: threatmesh-mongodb-uri
{{- if .Values.mongodb.enabled }}
- name: NODE_EXTRA_CA_CERTS
  value: /etc/threatmesh/mongodb-ca/ca.crt
{{- end }}
{{- end }}

{{/* NODE_OPTIONS and MALLOC_MMAP_THRESHOLD_ of a values memory block, each only when not 0 (memoryEnv in cdk8s/values.ts). */}}
{{- define "threatmesh.memoryEnv" -}}
{{- if gt (int .maxSemiSpaceMiB) 0 }}
- name: NODE_OPTIONS
  value: --max-semi-space-size={{ int .maxSemiSpaceMiB }}
{{- end }}
{{- if gt (int .mallocMmapThreshold) 0 }}
- name: MALLOC_MMAP_THRESHOLD_
  value: {{ int .mallocMmapThreshold | quote }}
{{- end }}
{{- end }}

{{- define "threatmesh.mongoMounts" -}}
{{- if .Values.mongodb.enabled }}
- mountPath: /etc/threatmesh/mongodb-ca
  name: mongodb-ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "threatmesh.mongoVolumes" -}}
{{- if .Values.mongodb.enabled }}
- name: mongodb-ca
  secret:
    items:
      - key: ca.crt
        path: ca.crt
    secretName: threatmesh-mongodb-tls
{{- end }}
{{- end }}

{{/* The network identity and signing key of a partner or the sequencer. */}}
{{- define "threatmesh.identityArgs" -}}
- --partner-id
- {{ .Values.partnerId }}
- --signing-key
- /etc/threatmesh/signing/private.pem
- --tls-cert
- /etc/threatmesh/network/tls.crt
- --tls-key
- /etc/threatmesh/network/tls.key
- --tls-ca
- /etc/threatmesh/network/ca.crt
{{- end }}

{{- define "threatmesh.identityMounts" -}}
- mountPath: /etc/threatmesh/network
  name: network-tls
  readOnly: true
- mountPath: /etc/threatmesh/signing
  name: signing-key
  readOnly: true
{{- end }}

{{- define "threatmesh.identityVolumes" -}}
- name: network-tls
  secret:
    secretName: {{ .Values.tls.networkSecret }}
- name: signing-key
  secret:
    secretName: {{ .Values.tls.signingKeySecret }}
{{- end }}

{{/* A cert-manager Certificate: (list $ component name secretName dnsNames). */}}
{{- define "threatmesh.certificate" -}}
{{- $ := index . 0 -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  labels:
    {{- include "threatmesh.labels" (list $ (index . 1)) | nindent 4 }}
  name: {{ index . 2 }}
  namespace: {{ $.Values.namespace }}
spec:
  dnsNames:
    {{- toYaml (index . 4) | nindent 4 }}
  issuerRef:
    group: cert-manager.io
    kind: {{ $.Values.tls.issuerKind }}
    name: {{ $.Values.tls.issuerName }}
  secretName: {{ index . 3 }}
{{- end }}

{{/* A PodDisruptionBudget keeping one pod up: (list $ component name). */}}
{{- define "threatmesh.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  labels:
    {{- include "threatmesh.labels" (list (index . 0) (index . 1)) | nindent 4 }}
  name: {{ index . 2 }}
  namespace: {{ (index . 0).Values.namespace }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      {{- include "threatmesh.selector" (index . 1) | nindent 6 }}
{{- end }}

{{/* A Service: (list $ component name ports type metricsLabel headless); ports: list of [name port targetPort]. */}}
{{- define "threatmesh.service" -}}
{{- $ := index . 0 -}}
apiVersion: v1
kind: Service
metadata:
  labels:
    {{- include "threatmesh.labels" (list $ (index . 1)) | nindent 4 }}
    {{- if index . 5 }}
    threatmesh.io/metrics: "true"
    {{- end }}
  name: {{ index . 2 }}
  namespace: {{ $.Values.namespace }}
spec:
  {{- if index . 6 }}
  clusterIP: None
  {{- end }}
  externalIPs: []
  ports:
    {{- range index . 3 }}
    - name: {{ index . 0 }}
      port: {{ index . 1 }}
      protocol: TCP
      targetPort: {{ index . 2 }}
    {{- end }}
  selector:
    {{- include "threatmesh.selector" (index . 1) | nindent 4 }}
  type: {{ index . 4 }}
{{- end }}

{{/* A replicated Ceph pool of size N. */}}
{{- define "threatmesh.cephPool" }}
failureDomain: host
replicated:
  requireSafeReplicaSize: {{ gt (int .) 1 }}
  size: {{ . }}
{{- end }}
