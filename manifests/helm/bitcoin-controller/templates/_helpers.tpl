{{/*
Name of the chart, or nameOverride. Used in the app.kubernetes.io/name label,
which the NetworkPolicy also selects the controller's pods by.
*/}}
{{- define "bitcoin-controller.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of object names: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart>". DNS names are
limited to 63 characters.
*/}}
{{- define "bitcoin-controller.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "bitcoin-controller.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels of every object of this release. */}}
{{- define "bitcoin-controller.labels" -}}
helm.sh/chart: {{ include "bitcoin-controller.chart" . }}
{{ include "bitcoin-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bitcoin-controller
{{- end }}

{{/* Labels that select this release's controller pods (immutable in a Deployment). */}}
{{- define "bitcoin-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bitcoin-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bitcoin-controller.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bitcoin-controller.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository:tag of the controller image; the tag defaults to appVersion. */}}
{{- define "bitcoin-controller.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.registry }}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The credential Secret names, checked: at least one, so the controller can
read some Secret, and the same list feeds the RBAC rule and the default
Secret's name (in the original chart they could drift apart).
*/}}
{{- define "bitcoin-controller.credentialSecretNames" -}}
{{- $names := .Values.rbac.credentialSecretNames | default list }}
{{- if not $names }}
{{- fail "rbac.credentialSecretNames must name at least one Secret (the controller may read no other)" }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/* Refuse settings that would make replicas fight over the same networks. */}}
{{- define "bitcoin-controller.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without a Lease every replica would reconcile the same networks" }}
{{- end }}
{{- end }}
