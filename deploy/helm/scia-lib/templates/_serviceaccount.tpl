{{/*
The service's own ServiceAccount, so RBAC or workload identity (cloud IAM) can be granted to
one service without reaching the others of the namespace.
*/}}
{{- define "scia-lib.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "scia-lib.serviceAccountName" . }}
  labels:
    {{- include "scia-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- /* No API token unless the service talks to the Kubernetes API: a stolen token is useless then. */}}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- end -}}
{{- end -}}
