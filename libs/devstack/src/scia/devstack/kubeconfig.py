"""`scia-dev up --kubeconfig PATH`: the local stack against a real cluster instead of the emulator.

The operator reads the kubeconfig itself (kopf's login: every auth method kubectl knows). The
gateway speaks to the API server with a URL, a bearer token file and a CA file only
(`SCIA_GATEWAY_KUBERNETES_URL`, `_TOKEN_PATH`, `_CA_PATH`), so the kubeconfig's current context is
resolved here into those three, and anything the gateway cannot use (client certificates, exec
plugins, skipped TLS verification) is refused up front with what to do instead, before any
service starts. Pure parsing is `resolve`; writing the token and CA files is `materialize`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from pathlib import Path

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ClusterAccess:
    """How the local services reach the cluster of a kubeconfig's current context."""

    kubeconfig: Path
    context: str
    server: str
    namespace: str = ""
    token: str = ""
    token_file: Path | None = None
    ca_data: bytes = b""
    ca_file: Path | None = None


def _named(items: object, name: str, what: str, path: Path) -> dict:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name:
            return item.get(what) if isinstance(item.get(what), dict) else {}
    raise KubeconfigError(f"kubeconfig {path}: the context refers to {what} {name!r}, which is not in its {what}s list")


def _relative(path: str, kubeconfig: Path) -> Path:
    # kubectl resolves relative file references against the kubeconfig's folder.
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else kubeconfig.parent / candidate


def resolve(path: Path, context: str | None = None) -> ClusterAccess:
    """The cluster, namespace and credentials of `context` (default: current-context) in `path`."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise KubeconfigError(f"kubeconfig {path} does not exist (or is not a file)")
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise KubeconfigError(f"kubeconfig {path} is not readable YAML: {error}") from None
    if not isinstance(config, dict) or config.get("kind", "Config") != "Config":
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (want a mapping with kind: Config)")
    name = context or config.get("current-context") or ""
    if not name:
        raise KubeconfigError(f"kubeconfig {path} has no current-context (kubectl config use-context NAME)")
    ctx = _named(config.get("contexts"), name, "context", path)
    cluster = _named(config.get("clusters"), ctx.get("cluster", ""), "cluster", path)
    user = _named(config.get("users"), ctx.get("user", ""), "user", path) if ctx.get("user") else {}
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no http(s) server URL (got {server!r})")
    if cluster.get("insecure-skip-tls-verify"):
        raise KubeconfigError(
            f"kubeconfig {path}: cluster {ctx.get('cluster')!r} skips TLS verification; the gateway verifies the "
            "API server's certificate: give the cluster a certificate-authority(-data) instead"
        )
    unsupported = [key for key in ("client-certificate", "client-certificate-data", "exec", "auth-provider", "username") if user.get(key)]
    # Plain http is a `kubectl proxy` (it adds the credentials itself); https needs a token.
    if server.startswith("https://") and not (user.get("token") or user.get("tokenFile")):
        uses = f"authenticates with {', '.join(unsupported)}" if unsupported else "has no credentials"
        raise KubeconfigError(
            f"kubeconfig {path}: user {ctx.get('user')!r} {uses}; the gateway needs a bearer token: add one to "
            "the user (e.g. `kubectl create serviceaccount scia-dev -n team-demo`, bind it a role, then "
            "`kubectl config set-credentials NAME --token=$(kubectl create token scia-dev -n team-demo)`), "
            "or point the kubeconfig at a `kubectl proxy` (http://127.0.0.1:8001)"
        )
    ca_data = b""
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
        except (binascii.Error, ValueError):
            raise KubeconfigError(f"kubeconfig {path}: certificate-authority-data of cluster {ctx.get('cluster')!r} is not base64") from None
    ca_file = _relative(cluster["certificate-authority"], path) if cluster.get("certificate-authority") else None
    token_file = _relative(user["tokenFile"], path) if user.get("tokenFile") else None
    for what, file in (("certificate-authority", ca_file), ("tokenFile", token_file)):
        if file is not None and not file.is_file():
            raise KubeconfigError(f"kubeconfig {path}: its {what} {file} does not exist")
    return ClusterAccess(
        kubeconfig=path, context=name, server=server, namespace=str(ctx.get("namespace") or ""),
        token=str(user.get("token") or ""), token_file=token_file, ca_data=ca_data, ca_file=ca_file,
    )


def materialize(access: ClusterAccess, folder: Path) -> tuple[Path | None, Path | None]:
    """(token file, CA file) for the gateway: the kubeconfig's own files, or copies of its inline
    data written to `folder` (mode 600: the token is a credential)."""
    folder.mkdir(parents=True, exist_ok=True)
    token_path, ca_path = access.token_file, access.ca_file
    if access.token:
        token_path = folder / "token"
        token_path.write_text(access.token)
        token_path.chmod(0o600)
    if access.ca_data:
        ca_path = folder / "ca.crt"
        ca_path.write_bytes(access.ca_data)
        ca_path.chmod(0o600)
    return token_path, ca_path


def against_cluster(access: ClusterAccess, operator, gateway, state_dir: Path) -> list:
    """The operator's and the gateway's ServiceSpecs pointed at the cluster instead of the emulator.

    The operator gets the kubeconfig itself (and an empty emulator URL, in case the environment
    has one); the gateway the server URL and the token and CA files. Both keep everything else
    (ports, the local planner and memory)."""
    token_path, ca_path = materialize(access, state_dir / "kube")
    operator_env = {
        **operator.env,
        "SCIA_OPERATOR_KUBERNETES_URL": "",
        "SCIA_OPERATOR_KUBECONFIG": str(access.kubeconfig),
        "SCIA_OPERATOR_IN_CLUSTER": "false",
    }
    gateway_env = {**gateway.env, "SCIA_GATEWAY_KUBERNETES_URL": access.server}
    if token_path is not None:
        gateway_env["SCIA_GATEWAY_KUBERNETES_TOKEN_PATH"] = str(token_path)
    if ca_path is not None:
        gateway_env["SCIA_GATEWAY_KUBERNETES_CA_PATH"] = str(ca_path)
    return [replace(operator, env=operator_env), replace(gateway, env=gateway_env)]
