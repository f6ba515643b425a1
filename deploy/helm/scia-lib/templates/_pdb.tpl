{{/*
PodDisruptionBudget: how many pods voluntary disruptions (node drains, cluster upgrades) may
take down at once. minAvailable wins when set; otherwise maxUnavailable applies, whose
default of 1 never blocks a drain, even with a single replica.
*/}}
{{- define "scia-lib.pdb" -}}
{{- with .Values.podDisruptionBudget -}}
{{- if .enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "scia-lib.fullname" $ }}
  labels:
    {{- include "scia-lib.labels" $ | nindent 4 }}
spec:
  {{- if hasKey . "minAvailable" }}
  minAvailable: {{ .minAvailable }}
  {{- else }}
  maxUnavailable: {{ .maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "scia-lib.selectorLabels" $ | nindent 6 }}
{{- end -}}
{{- end -}}
{{- end -}}
