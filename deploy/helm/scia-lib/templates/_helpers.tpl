{{/*
Names, labels and the other small pieces the resource templates share.

Every template here takes the calling service chart's context (`.`): its .Chart, .Release and
.Values, where .Values follows the values contract documented in deploy/helm/README.md.
*/}}

{{/* The service name: the chart name unless nameOverride is set. */}}
{{- define "scia-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of every object of the release. Truncated to 54 characters, not the usual 63, so
that "<fullname>-headless" still fits the 63-character limit of a Service name.
*/}}
{{- define "scia-lib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "scia-lib.headlessName" -}}
{{- printf "%s-headless" (include "scia-lib.fullname" .) -}}
{{- end -}}

{{- define "scia-lib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The component label comes from the service chart's Chart.yaml annotation `scia/component`:
it describes what the chart is, so it is not a value users should change per release.
*/}}
{{- define "scia-lib.component" -}}
{{- required (printf "Chart.yaml of %s must set the annotation scia/component" .Chart.Name) (index .Chart.Annotations "scia/component") -}}
{{- end -}}

{{/* The image tag, defaulting to the chart's appVersion. */}}
{{- define "scia-lib.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/*
The version label: the image tag without a "@sha256:..." digest (Skaffold deploys
"tag@digest"), cut to a valid label value.
*/}}
{{- define "scia-lib.version" -}}
{{- (split "@" (include "scia-lib.imageTag" .))._0 | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/* Labels that never change over the life of a release: Deployment selectors are immutable. */}}
{{- define "scia-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scia-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scia-lib.labels" -}}
helm.sh/chart: {{ include "scia-lib.chart" . }}
{{ include "scia-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ include "scia-lib.version" . | quote }}
app.kubernetes.io/component: {{ include "scia-lib.component" . }}
app.kubernetes.io/part-of: scia
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The image reference. A registry set on the chart wins over global.imageRegistry; with neither,
the repository is used as is (it may carry its own registry, as Skaffold's does).
*/}}
{{- define "scia-lib.image" -}}
{{- $global := .Values.global | default dict -}}
{{- $registry := .Values.image.registry | default $global.imageRegistry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository -}}
{{- end -}}
{{- printf "%s:%s" $repository (include "scia-lib.imageTag" .) -}}
{{- end -}}

{{/* Pull secrets of the chart plus the global ones, without duplicates, as a YAML list; empty when none. */}}
{{- define "scia-lib.imagePullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- with concat (.Values.imagePullSecrets | default list) ($global.imagePullSecrets | default list) | uniq -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{- define "scia-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "scia-lib.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
An environment variable value. Helm holds every number as a float64, which prints large ones
in exponent form ("1e+06") that the services' integer settings reject; JSON prints them whole.
*/}}
{{- define "scia-lib.envValue" -}}
{{- if kindIs "string" . -}}
{{- quote . -}}
{{- else -}}
{{- toJson . | quote -}}
{{- end -}}
{{- end -}}

{{/* The variable prefix of the service's settings: SCIA_<CHART>_. */}}
{{- define "scia-lib.envPrefix" -}}
{{- printf "SCIA_%s_" (.Chart.Name | upper | replace "-" "_") -}}
{{- end -}}

{{/* The gRPC port, or nothing for a service without a gRPC server (the operator). */}}
{{- define "scia-lib.grpcPort" -}}
{{- with dig "grpc" nil .Values.ports -}}{{ int . }}{{- end -}}
{{- end -}}

{{/*
The full name of another SCIA service ("peer") of the same suite, as scia-lib.fullname names
it in its own chart. The umbrella installs every service in one release (global.suite), so a
peer's release is this release. Installed chart by chart, each service is its own release
named "<prefix>-<service>" (scia-rag, scia-embedder...): a peer's release is then this
release's name with "-<this chart>" replaced by "-<peer>". Takes (list <context> <peer name>).
*/}}
{{- define "scia-lib.peerFullname" -}}
{{- $ctx := index . 0 -}}
{{- $peer := index . 1 -}}
{{- $release := $ctx.Release.Name -}}
{{- if not (dig "suite" false ($ctx.Values.global | default dict)) -}}
{{- $release = printf "%s-%s" (trimSuffix (printf "-%s" $ctx.Chart.Name) $ctx.Release.Name) $peer -}}
{{- end -}}
{{- include "scia-lib.fullname" (dict "Chart" (dict "Name" $peer) "Release" (dict "Name" $release) "Values" (dict "nameOverride" "" "fullnameOverride" "")) -}}
{{- end -}}

{{/*
The gRPC target of a peer: its own `target` when set, else its headless Service in this
namespace, dialed through the dns resolver so the client balances over its pods
(round_robin). Takes (list <context> <peer name> <peer values>).
*/}}
{{- define "scia-lib.peerTarget" -}}
{{- $ctx := index . 0 -}}
{{- $peer := index . 1 -}}
{{- $spec := index . 2 -}}
{{- if $spec.target -}}
{{- $spec.target -}}
{{- else -}}
{{- printf "dns:///%s-headless.%s.svc.cluster.local:%d" (include "scia-lib.peerFullname" (list $ctx $peer)) $ctx.Release.Namespace (int $spec.port) -}}
{{- end -}}
{{- end -}}

{{/*
A `config` value that comes from a Secret or ConfigMap instead of the values:
{secretKeyRef: {name, key}} or {configMapKeyRef: {name, key}}.
*/}}
{{- define "scia-lib.isValueFrom" -}}
{{- if and (kindIs "map" .) (eq (len .) 1) (or (hasKey . "secretKeyRef") (hasKey . "configMapKeyRef")) -}}true{{- end -}}
{{- end -}}

{{/*
The container's environment, from general to specific: of duplicate names the kubelet uses
the last, so later entries (env, extraEnv) can override what the chart derives:

1. SCIA_<CHART>_<NAME>_PORT for each of .Values.ports (GRPC_PORT, METRICS_PORT, HEALTH_PORT),
   the single source of the container ports, Services and probes;
2. SCIA_<CHART>_<PEER>_TARGET for each enabled entry of .Values.peers, the SCIA services this
   one calls (see scia-lib.peerTarget);
3. .Values.config as SCIA_<CHART>_<KEY IN UPPER_SNAKE_CASE> (maxBatchSize ->
   SCIA_EMBEDDER_MAX_BATCH_SIZE). Empty strings, maps and lists are left out so the service
   applies its own default: an empty variable is a value, not an absent one. Maps and lists
   are passed as JSON, except {secretKeyRef: ...} / {configMapKeyRef: ...}, which become
   valueFrom, so secrets (API keys, DSNs) never appear in values or manifests;
4. OpenTelemetry: the OTLP endpoint of the chart or else the global one (no endpoint, no
   export), the service name when overridden, the pod identity as resource attributes;
5. .Values.env, a map of plain variables;
6. .Values.extraEnv, full EnvVar objects (valueFrom secrets, field references...); a chart
   that derives variables from its own values (rag's database) puts them first in this list.
*/}}
{{- define "scia-lib.env" -}}
{{- $prefix := include "scia-lib.envPrefix" . -}}
{{- $global := .Values.global | default dict -}}
{{- range $name, $port := .Values.ports }}
{{- if $port }}
- name: {{ printf "%s%s_PORT" $prefix ($name | snakecase | upper) }}
  value: {{ include "scia-lib.envValue" $port }}
{{- end }}
{{- end }}
{{- range $peer, $spec := .Values.peers }}
{{- if dig "enabled" true $spec }}
- name: {{ printf "%s%s_TARGET" $prefix ($peer | snakecase | upper) }}
  value: {{ include "scia-lib.peerTarget" (list $ $peer $spec) | quote }}
{{- end }}
{{- end }}
{{- range $key, $value := .Values.config }}
{{- $name := printf "%s%s" $prefix ($key | snakecase | upper) }}
{{- if include "scia-lib.isValueFrom" $value }}
- name: {{ $name }}
  valueFrom:
    {{- toYaml $value | nindent 4 }}
{{- else if not (or (eq (toString $value) "") (and (or (kindIs "map" $value) (kindIs "slice" $value)) (empty $value))) }}
- name: {{ $name }}
  value: {{ include "scia-lib.envValue" $value }}
{{- end }}
{{- end }}
{{- $otelEndpoint := .Values.otel.endpoint | default (dig "otel" "endpoint" "" $global) }}
{{- if $otelEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otelEndpoint | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),service.version=%s" (include "scia-lib.version" .) | quote }}
{{- end }}
{{- with .Values.otel.serviceName }}
- name: OTEL_SERVICE_NAME
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ include "scia-lib.envValue" $value }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Checks across values that JSON Schema cannot express. Included by the Deployment, so a bad
combination fails `helm install` / `helm template` with a message saying what to change.
*/}}
{{- define "scia-lib.validate" -}}
{{- $ports := .Values.ports -}}
{{- $names := keys $ports | sortAlpha -}}
{{- range $i, $a := $names -}}
{{- range $b := slice $names (add1 $i) -}}
{{- if and (index $ports $a) (eq (int (index $ports $a)) (int (index $ports $b))) -}}
{{- fail (printf "ports.%s and ports.%s must differ (both are %v)" $a $b (index $ports $a)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $probeKind := dig "kind" "grpc" .Values.probes -}}
{{- if and (eq $probeKind "grpc") (not (include "scia-lib.grpcPort" .)) -}}
{{- fail "probes.kind grpc needs ports.grpc: a service without a gRPC server uses probes.kind http (with ports.health) or none" -}}
{{- end -}}
{{- if and (eq $probeKind "http") (not (dig "health" nil $ports)) -}}
{{- fail "probes.kind http needs ports.health, the port of the HTTP health endpoint" -}}
{{- end -}}
{{- range $peer, $spec := .Values.peers -}}
{{- if and (dig "enabled" true $spec) (not $spec.target) (not $spec.port) -}}
{{- fail (printf "peers.%s needs a port (or a target)" $peer) -}}
{{- end -}}
{{- end -}}
{{- $grace := .Values.config.shutdownGraceSeconds | default 0 -}}
{{- if le (float64 .Values.terminationGracePeriodSeconds) (float64 $grace) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be larger than config.shutdownGraceSeconds (%v): Kubernetes kills the container when it runs out, in the middle of the graceful shutdown" .Values.terminationGracePeriodSeconds $grace) -}}
{{- end -}}
{{- $autoscaling := .Values.autoscaling | default dict -}}
{{- if $autoscaling.enabled -}}
{{- if gt (int $autoscaling.minReplicas) (int $autoscaling.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)" $autoscaling.minReplicas $autoscaling.maxReplicas) -}}
{{- end -}}
{{- if not (dig "requests" "cpu" "" (.Values.resources | default dict)) -}}
{{- fail "autoscaling needs resources.requests.cpu: CPU utilization is measured against the request" -}}
{{- end -}}
{{- end -}}
{{- end -}}
