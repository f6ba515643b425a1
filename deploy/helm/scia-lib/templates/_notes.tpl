{{/*
How to reach a service, for NOTES.txt. Takes a service context: the service chart's own `.`,
or from the umbrella a dict of Values (that service's section), Release and Chart (Name).
*/}}
{{- define "scia-lib.notes" -}}
{{- $fullname := include "scia-lib.fullname" . -}}
{{- $port := include "scia-lib.grpcPort" . -}}
{{- if $port -}}
{{ .Chart.Name }} (gRPC on port {{ $port }}, Prometheus metrics on {{ int .Values.ports.metrics }} at /metrics)
  In-cluster, balanced over the pods (gRPC round_robin over the headless Service):
    dns:///{{ $fullname }}-headless.{{ .Release.Namespace }}.svc.cluster.local:{{ $port }}
  Single connection: {{ $fullname }}.{{ .Release.Namespace }}.svc.cluster.local:{{ $port }}
  From your machine:
    kubectl -n {{ .Release.Namespace }} port-forward svc/{{ $fullname }} {{ $port }}:{{ $port }}
{{- else -}}
{{ .Chart.Name }} (no gRPC server; Prometheus metrics on {{ int .Values.ports.metrics }} at /metrics)
  Metrics: {{ $fullname }}.{{ .Release.Namespace }}.svc.cluster.local:{{ int .Values.ports.metrics }}/metrics
{{- end }}
  Ready when: kubectl -n {{ .Release.Namespace }} rollout status deploy/{{ $fullname }}
{{- end -}}
