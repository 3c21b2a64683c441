{{- define "ghostwire.labels" -}}
app.kubernetes.io/name: ghostwire
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "ghostwire.selector" -}}
app.kubernetes.io/name: ghostwire
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
