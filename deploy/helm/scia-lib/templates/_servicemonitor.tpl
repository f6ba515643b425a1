{{/*
ServiceMonitor for the Prometheus Operator (off by default: the CRD must exist). It scrapes
the "metrics" port of the ClusterIP Service's endpoints, i.e. every ready pod; the headless
Service has no such port and yields no targets. Operators usually select ServiceMonitors by a
label of their Prometheus release: set it in serviceMonitor.labels.
*/}}
{{- define "scia-lib.serviceMonitor" -}}
{{- with .Values.metrics.serviceMonitor -}}
{{- if .enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "scia-lib.fullname" $ }}
  labels:
    {{- include "scia-lib.labels" $ | nindent 4 }}
    {{- with .labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "scia-lib.selectorLabels" $ | nindent 6 }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ .interval }}
      scrapeTimeout: {{ .scrapeTimeout }}
{{- end -}}
{{- end -}}
{{- end -}}
