{{/*
The two Services of a SCIA service.

"<fullname>" is a normal ClusterIP Service: one virtual IP, for clients that hold a single
connection (kubectl port-forward, tools, anything without client-side balancing) and for the
ServiceMonitor. gRPC multiplexes every call over one long-lived HTTP/2 connection, so through
a virtual IP all calls of a client land on one pod.

"<fullname>-headless" has no virtual IP: its DNS name resolves to the addresses of the ready
pods, so a gRPC client dialing
  dns:///<fullname>-headless.<namespace>.svc.cluster.local:<grpc port>
with the round_robin policy opens a connection to each pod and spreads its calls over them.

A service without a gRPC server (the operator) gets the ClusterIP Service for its metrics only
and no headless Service: nothing calls it.
*/}}
{{- define "scia-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "scia-lib.fullname" . }}
  labels:
    {{- include "scia-lib.labels" . | nindent 4 }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "scia-lib.selectorLabels" . | nindent 4 }}
  ports:
    {{- with include "scia-lib.grpcPort" . }}
    - name: grpc
      port: {{ . }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- end }}
    - name: metrics
      port: {{ .Values.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end -}}

{{- define "scia-lib.headlessService" -}}
{{- with include "scia-lib.grpcPort" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "scia-lib.headlessName" $ }}
  labels:
    {{- include "scia-lib.labels" $ | nindent 4 }}
  {{- with $.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  clusterIP: None
  {{- /* Only ready pods in DNS: a starting or draining pod reports NOT_SERVING and must get no calls. */}}
  publishNotReadyAddresses: false
  selector:
    {{- include "scia-lib.selectorLabels" $ | nindent 4 }}
  ports:
    - name: grpc
      port: {{ . }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
{{- end -}}
{{- end -}}
