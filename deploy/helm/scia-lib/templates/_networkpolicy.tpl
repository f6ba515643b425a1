{{/*
NetworkPolicy: who may open connections to the service's pods (ingress only; egress stays
open, since the services call each other, PostgreSQL, Git hosts, LLM endpoints and the
Kubernetes API at addresses a policy could not list ahead of time).

- gRPC: only pods labelled app.kubernetes.io/part-of=scia in the release namespace (every SCIA
  service has the label), plus networkPolicy.extraFrom. The podSelector is deliberately without
  a namespaceSelector: a pod in a tenant namespace could give itself the label, but only the
  SCIA namespace's own pods match.
- metrics: networkPolicy.metricsFrom, or anyone when it is empty, since where Prometheus runs
  differs per cluster and the metrics hold no tenant data.
The kubelet's probes come from the node and are not subject to the policy.
*/}}
{{- define "scia-lib.networkPolicy" -}}
{{- with .Values.networkPolicy -}}
{{- if .enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "scia-lib.fullname" $ }}
  labels:
    {{- include "scia-lib.labels" $ | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "scia-lib.selectorLabels" $ | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- if include "scia-lib.grpcPort" $ }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: scia
        {{- with .extraFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: grpc
          protocol: TCP
    {{- end }}
    - ports:
        - port: metrics
          protocol: TCP
      {{- with .metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
{{- end -}}
{{- end -}}
