{{/* The kopf peering object the operator's replicas share: peering.name, else the release's full name. */}}
{{- define "operator.peeringName" -}}
{{- .Values.peering.name | default (include "scia-lib.fullname" .) -}}
{{- end -}}

{{/* Namespaces the operator watches (config.namespaces, comma-separated); empty: the whole cluster. */}}
{{- define "operator.namespaces" -}}
{{- range $ns := splitList "," (.Values.config.namespaces | default "") }}{{ with trim $ns }}
- {{ . }}
{{- end }}{{ end -}}
{{- end -}}
