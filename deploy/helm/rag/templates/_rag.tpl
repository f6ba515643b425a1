{{/*
What the rag chart derives from its own values, on top of scia-lib.
*/}}

{{/* The CloudNativePG Cluster; CloudNativePG names its Services <cluster>-rw|ro|r and the app Secret <cluster>-app. */}}
{{- define "rag.cnpgClusterName" -}}
{{- printf "%s-db" (include "scia-lib.fullname" .) -}}
{{- end -}}

{{/*
The Secret key holding SCIA_RAG_DSN, as a secretKeyRef. The service starts an embedded
PostgreSQL when the DSN is empty: per pod, on the container's scratch disk, lost on restart and
never shared between replicas. That is for a laptop, so in a cluster rendering fails instead.
*/}}
{{- define "rag.dsnSecretKeyRef" -}}
{{- if and .Values.cnpg.enabled .Values.database.existingSecret -}}
{{- fail "rag: set either database.existingSecret (an external PostgreSQL) or cnpg.enabled (a CloudNativePG cluster), not both" -}}
{{- else if .Values.cnpg.enabled -}}
name: {{ include "rag.cnpgClusterName" . }}-app
key: uri
{{- else if .Values.database.existingSecret -}}
name: {{ .Values.database.existingSecret }}
key: {{ .Values.database.secretKey }}
{{- else -}}
{{- fail "rag needs a PostgreSQL database with pgvector; the service's embedded PostgreSQL is for development only and is never used in a cluster. Set database.existingSecret to a Secret holding the connection string (under the key database.secretKey, default \"uri\"), or cnpg.enabled=true to run one with CloudNativePG (in the umbrella chart: rag.database.existingSecret or rag.cnpg.enabled)" -}}
{{- end -}}
{{- end -}}

{{/* The claim the chart creates for the re-ranker model. */}}
{{- define "rag.rerankerClaimName" -}}
{{- printf "%s-reranker" (include "scia-lib.fullname" .) -}}
{{- end -}}

{{/* The volume source of the re-ranker model as YAML, empty without one; at most one source. */}}
{{- define "rag.rerankerVolumeSource" -}}
{{- with .Values.reranker -}}
{{- $sources := 0 -}}
{{- if .volume }}{{ $sources = add1 $sources }}{{ end -}}
{{- if .existingClaim }}{{ $sources = add1 $sources }}{{ end -}}
{{- if .persistence.enabled }}{{ $sources = add1 $sources }}{{ end -}}
{{- if gt $sources 1 -}}
{{- fail "reranker: set only one of reranker.volume, reranker.existingClaim and reranker.persistence.enabled" -}}
{{- end -}}
{{- if .volume -}}
{{- toYaml .volume -}}
{{- else if .existingClaim -}}
persistentVolumeClaim:
  claimName: {{ .existingClaim }}
  readOnly: true
{{- else if .persistence.enabled -}}
persistentVolumeClaim:
  claimName: {{ include "rag.rerankerClaimName" $ }}
  readOnly: true
{{- end -}}
{{- end -}}
{{- end -}}
