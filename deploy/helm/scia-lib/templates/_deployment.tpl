{{/*
The Deployment of a SCIA service.

The pod meets the Pod Security Standard "restricted" without exceptions: a service only needs
its ports and a scratch /tmp, so nothing here is configurable that could weaken it. The image
runs as uid 10001 (see services/<service>/Dockerfile).

Health (probes.kind):
- grpc (the default): the standard grpc.health.v1 service, which the SCIA runtime keeps at
  NOT_SERVING until the service finished starting (e.g. loaded its model) and again as soon as
  it begins its graceful shutdown; the kubelet's native gRPC probes ask it directly;
- http: an HTTP GET of probes.http.path on the "health" port, for a service without a gRPC
  server (the operator: kopf's liveness endpoint);
- none: no probes.
Only the probes whose timings are given (probes.startup|readiness|liveness) are set.
*/}}
{{- define "scia-lib.deployment" -}}
{{- include "scia-lib.validate" . -}}
{{- $fullname := include "scia-lib.fullname" . -}}
{{- $selectorLabels := include "scia-lib.selectorLabels" . | fromYaml -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "scia-lib.labels" . | nindent 4 }}
spec:
  {{- if not (dig "enabled" false (.Values.autoscaling | default dict)) }}
  {{- /* With autoscaling on, the HPA owns the replica count; setting it here would reset it on every upgrade. */}}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  {{- with .Values.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- toYaml $selectorLabels | nindent 6 }}
  template:
    metadata:
      {{- $annotations := dict }}
      {{- if .Values.metrics.podAnnotations }}
      {{- $_ := set $annotations "prometheus.io/scrape" "true" }}
      {{- $_ := set $annotations "prometheus.io/port" (toString .Values.ports.metrics) }}
      {{- $_ := set $annotations "prometheus.io/path" "/metrics" }}
      {{- end }}
      {{- $annotations = merge (deepCopy (.Values.podAnnotations | default dict)) $annotations }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "scia-lib.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "scia-lib.serviceAccountName" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
      {{- /*
      Off because Kubernetes would otherwise inject <SERVICE>_PORT-style variables for every
      Service of the namespace: for a Service named scia-embedder they are SCIA_EMBEDDER_PORT,
      SCIA_EMBEDDER_SERVICE_HOST..., the very prefix the embedder reads its settings from.
      */}}
      enableServiceLinks: false
      {{- with include "scia-lib.imagePullSecrets" . }}
      imagePullSecrets:
        {{- . | nindent 8 }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      {{- /* Longer than the service's own shutdown grace (checked in scia-lib.validate), so in-flight calls can finish. */}}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "scia-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            {{- range $name, $port := .Values.ports }}
            {{- if $port }}
            - name: {{ $name }}
              containerPort: {{ $port }}
              protocol: TCP
            {{- end }}
            {{- end }}
          env:
            {{- include "scia-lib.env" . | trim | nindent 12 }}
          {{- /* Startup covers the slow start (model loading); liveness and readiness only begin once it passed. */}}
          {{- $probeKind := dig "kind" "grpc" .Values.probes }}
          {{- if ne $probeKind "none" }}
          {{- range $probe := list "startup" "readiness" "liveness" }}
          {{- with index $.Values.probes $probe }}
          {{ $probe }}Probe:
            {{- if eq $probeKind "grpc" }}
            grpc:
              port: {{ include "scia-lib.grpcPort" $ }}
            {{- else }}
            httpGet:
              path: {{ dig "http" "path" "/healthz" $.Values.probes }}
              port: health
            {{- end }}
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- end }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            {{- /* The root filesystem is read-only; /tmp is the one writable place (Python, torch and Hugging Face caches). */}}
            - name: tmp
              mountPath: /tmp
            {{- with .Values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit }}
        {{- with .Values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.topologySpreadConstraints }}
      {{- /* A constraint without a labelSelector spreads this service's own pods, the usual intent. */}}
      topologySpreadConstraints:
        {{- range . }}
        {{- $constraint := deepCopy . }}
        {{- if not (hasKey $constraint "labelSelector") }}
        {{- $_ := set $constraint "labelSelector" (dict "matchLabels" $selectorLabels) }}
        {{- end }}
        - {{ toYaml $constraint | nindent 10 | trim }}
        {{- end }}
      {{- end }}
{{- end -}}

{{/*
The Deployment with values the calling chart derived from its own (rag: the database and the
re-ranker volume; planner: the clone volume). Takes (list <chart context> <values>): the chart
passes a deepCopy of .Values with its additions, e.g. derived variables put first in extraEnv,
so its users can still override them. Templates cannot return objects, only text, hence a
context rebuilt here rather than a helper returning values.
*/}}
{{- define "scia-lib.deploymentWithValues" -}}
{{- $ctx := index . 0 -}}
{{- include "scia-lib.deployment" (dict "Values" (index . 1) "Chart" $ctx.Chart "Release" $ctx.Release "Capabilities" $ctx.Capabilities "Template" $ctx.Template "Files" $ctx.Files) -}}
{{- end -}}
