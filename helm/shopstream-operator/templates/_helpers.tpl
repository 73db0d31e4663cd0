{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "shopstream-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name when it already contains the chart
name, else "<release>-<chart>".
*/}}
{{- define "shopstream-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "shopstream-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object of the chart. */}}
{{- define "shopstream-operator.labels" -}}
helm.sh/chart: {{ include "shopstream-operator.chart" . }}
{{ include "shopstream-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shopstream
{{- end }}

{{/* Labels that select the operator's pods (immutable once installed). */}}
{{- define "shopstream-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shopstream-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shopstream-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shopstream-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The namespace the operator watches: "" (all namespaces) only in cluster-wide
mode; in namespaced mode watchNamespace, defaulting to the release namespace.
*/}}
{{- define "shopstream-operator.watchNamespace" -}}
{{- if .Values.rbac.clusterWide }}
{{- .Values.watchNamespace }}
{{- else }}
{{- default .Release.Namespace .Values.watchNamespace }}
{{- end }}
{{- end }}

{{/* image reference "repository:tag", the tag defaulting to the appVersion. */}}
{{- define "shopstream-operator.image" -}}
{{- $image := index . 0 }}
{{- $root := index . 1 }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}

{{/* The operator's rules on pipelines and the objects it owns (rbac.yaml). */}}
{{- define "shopstream-operator.rules" -}}
- apiGroups: ["analytics.shopstream.dev"]
  resources: ["analyticspipelines"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["analytics.shopstream.dev"]
  resources: ["analyticspipelines/status"]
  verbs: ["patch"]
- apiGroups: ["analytics.shopstream.dev"]
  resources: ["analyticspipelines/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# spec.networkPolicy: one policy per workload; delete when it is turned off.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The processor pods' restart counts and crash loops (alerts); list only,
# by the pipeline's labels.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: ["kafka.strimzi.io"]
  resources: ["kafkatopics"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["kafka.strimzi.io"]
  resources: ["kafkausers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
