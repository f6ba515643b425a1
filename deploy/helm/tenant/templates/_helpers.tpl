{{/* The tenant's namespace; required. */}}
{{- define "tenant.namespace" -}}
{{- required "name: the team's namespace (its tenant name) is required, e.g. --set name=team-a" .Values.name -}}
{{- end -}}

{{- define "tenant.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: tenant
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: scia
app.kubernetes.io/managed-by: {{ .Release.Service }}
scia.io/tenant: {{ include "tenant.namespace" . }}
{{- end -}}
