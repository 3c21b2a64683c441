{{- define "lockstep-worker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lockstep-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lockstep-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: the ServiceAccount to run as, when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lockstep-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lockstep-worker.labels" -}}
{{ include "lockstep-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
lockstep.dev/cluster: {{ .Values.cluster | quote }}
{{- end -}}

{{/* Whether the worker talks TLS to Temporal: asked for, or implied by a Secret. */}}
{{- define "lockstep-worker.tls" -}}
{{- if or .Values.temporal.tls.enabled .Values.temporal.tls.secretName .Values.temporal.apiKey.secretName -}}true{{- end -}}
{{- end -}}
