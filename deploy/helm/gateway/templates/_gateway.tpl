{{/*
Variables the chart sets itself: env and extraEnv may not set them, nor pass the JWT key as a
plain value (it would sit in the manifest and in `helm get values`).
*/}}
{{- define "gateway.chartOwnedVariables" -}}
{{- list "SCIA_GATEWAY_HTTP_PORT" "SCIA_GATEWAY_KUBERNETES_URL" "SCIA_GATEWAY_IMPERSONATE" "SCIA_GATEWAY_PLANNER_TARGET" "SCIA_GATEWAY_RAG_TARGET" "SCIA_GATEWAY_ALLOW_LOCAL_REPOSITORIES" | toJson -}}
{{- end -}}

{{/* Checks across values that JSON Schema cannot express; included by the Deployment. */}}
{{- define "gateway.validate" -}}
{{- if not (or .Values.config.oidcJwksUrl .Values.config.jwtSharedKey) -}}
{{- fail "the gateway needs a way to verify tokens: set config.oidcJwksUrl (the OIDC issuer's JWKS URL) or config.jwtSharedKey: {secretKeyRef: {name, key}} (an HS256 key of at least 32 characters in a Secret)" -}}
{{- end -}}
{{- if and .Values.config.persistedQueriesOnly (not .Values.config.persistedQueriesPath) -}}
{{- fail "config.persistedQueriesOnly needs config.persistedQueriesPath (a JSON safelist mounted through extraVolumes)" -}}
{{- end -}}
{{- $owned := include "gateway.chartOwnedVariables" . | fromJsonArray -}}
{{- range $name, $_ := .Values.env -}}
{{- if or (has $name $owned) (eq $name "SCIA_GATEWAY_JWT_SHARED_KEY") -}}
{{- fail (printf "env.%s: set by the chart (the JWT key: config.jwtSharedKey from a Secret)" $name) -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraEnv -}}
{{- if has .name $owned -}}
{{- fail (printf "extraEnv %s: set by the chart" .name) -}}
{{- end -}}
{{- if and (eq .name "SCIA_GATEWAY_JWT_SHARED_KEY") (not .valueFrom) -}}
{{- fail "extraEnv SCIA_GATEWAY_JWT_SHARED_KEY: only from a Secret, use config.jwtSharedKey: {secretKeyRef: {name, key}}" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) -}}
{{- fail "ingress.enabled needs ingress.host, the public host name of the gateway" -}}
{{- end -}}
{{- end -}}
