"""A local, in-memory Kubernetes API for the operator: kmock's emulator with the SCIA kinds.

`python -m scia.operator.emulator --port 6443` (or `scia-k8s-emulator`) serves, on loopback,
the core kinds the operator touches (namespaces, events, secrets, configmaps), the SCIA kinds
(`deployments`, `cloudproviders`, `infrastructures` in `scia.io/v1alpha1`) and kopf's peering
kinds. It keeps everything in memory and FORGETS EVERYTHING ON EXIT. It does not validate
objects against the CRD schemas and runs no controllers (no Crossplane, no garbage collector).
Namespaces are made at start (`--namespace`): kmock 0.8 cannot parse `POST /api/v1/namespaces`;
namespaced objects can be created in any namespace name without it.

kmock's emulator stores objects as plain JSON and merges patches; `SciaKubernetesEmulator` adds
the bookkeeping a real API server does and that clients rely on:

- `metadata.uid`, `creationTimestamp`, `generation: 1` and a `resourceVersion` on create, and a
  name from `generateName` (kopf's Events use it);
- a new `resourceVersion` on every write, and `generation + 1` when `spec` changes (the operator
  skips work when `status.observedGeneration == metadata.generation`, so this must be real);
- the status subresource: writes to `.../status` only change `status`, writes to the object
  never change `status` (as with `subresources.status` in a CRD);
- a JSON-patch whose `test` operation fails answers 422, like the API server (kopf treats it as
  an optimistic-concurrency conflict and retries), instead of a 500.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import itertools
import logging
import signal
import uuid
from collections.abc import Iterable
from typing import Any

import attrs
import jsonpatch
import kmock
from kmock._internal import dicts as kmock_dicts
from kmock._internal import enums as kmock_enums

log = logging.getLogger(__name__)

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@attrs.frozen
class ServedKind:
    """One resource the emulator serves (what a CRD or the core API would declare)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    shortnames: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.group}/{self.version}/{self.plural}" if self.group else f"{self.version}/{self.plural}"


# Kept in step with crds/*.yaml by tests/operator/test_emulator.py.
SCIA_KINDS: tuple[ServedKind, ...] = (
    ServedKind("scia.io", "v1alpha1", "deployments", "Deployment", True, True, ("sdep", "sciadeploy"), ("scia",)),
    ServedKind("scia.io", "v1alpha1", "cloudproviders", "CloudProvider", True, True, ("scp", "cloudprov"), ("scia",)),
    ServedKind("scia.io", "v1alpha1", "infrastructures", "Infrastructure", True, True, ("sinfra",), ("scia",)),
)
CORE_KINDS: tuple[ServedKind, ...] = (
    ServedKind("", "v1", "namespaces", "Namespace", namespaced=False, status_subresource=True, shortnames=("ns",)),
    ServedKind("", "v1", "events", "Event", shortnames=("ev",)),
    ServedKind("", "v1", "secrets", "Secret"),
    ServedKind("", "v1", "configmaps", "ConfigMap", shortnames=("cm",)),
    # kopf's peering (two operator replicas agree which one is active).
    ServedKind("kopf.dev", "v1", "kopfpeerings", "KopfPeering"),
    ServedKind("kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False),
)
SERVED_KINDS: tuple[ServedKind, ...] = CORE_KINDS + SCIA_KINDS


def declare(emulator: kmock.KubernetesScaffold, kinds: Iterable[ServedKind] = SERVED_KINDS) -> None:
    """Declare `kinds` in an emulator; undeclared kinds are 404s and kopf silently never watches them."""
    for served in kinds:
        emulator.resources[served.key] = kmock.ResourceInfo(
            namespaced=served.namespaced,
            kind=served.kind,
            singular=served.kind.lower(),
            verbs=_ALL_VERBS,
            shortnames=served.shortnames,
            categories=served.categories,
            subresources=["status"] if served.status_subresource else [],
        )


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class SciaKubernetesEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus uid/generation/resourceVersion bookkeeping and a real status subresource."""

    _versions: Any = attrs.field(factory=lambda: itertools.count(1), init=False)
    # Serialises the read-compute-write of object-changing requests (kmock's own lock is not
    # re-entrant and is taken again inside the parent's _handle).
    _write_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)
    # Requests being served now (by id), see _forget_served_requests.
    _in_flight: set[int] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        declare(self)

    def _has_status_subresource(self, resource: Any) -> bool:
        for declared in self.resources:
            if declared == resource:
                return "status" in self.resources[declared].subresources
        return False

    def _forget_served_requests(self) -> None:
        """Keep only the requests still being served in kmock's request records.

        kmock records every request (for a test's assertions) and routes each new one by walking
        its reactions' views over that whole record: a request costs time proportional to all the
        requests served before it, and the record is never freed. In a long-running emulator (the
        local stack, the benchmark) requests took ~0.4 s each after a few thousand, and an operator
        with 100 Deployments slowed to a crawl. This emulator serves, it asserts nothing: finished
        requests are dropped. Requests in flight stay (a streaming watch or a request routed across
        an await must still see itself in the record).
        """
        self._requests[:] = [r for r in self._requests if id(r) in self._in_flight]
        for payload in self._payloads:  # each reaction keeps the requests it served, too
            payload._requests[:] = [r for r in payload._requests if id(r) in self._in_flight]

    async def _handle(self, request: kmock.Request):  # type: ignore[override]
        self._in_flight.add(id(request))
        self._forget_served_requests()
        try:
            return await self._handle_bookkept(request)
        finally:
            self._in_flight.discard(id(request))

    async def _handle_bookkept(self, request: kmock.Request):
        if request.resource is None or request.action not in (kmock_enums.action.CREATE, kmock_enums.action.UPDATE):
            return await super()._handle(request)
        async with self._write_lock:
            try:
                if request.action == kmock_enums.action.CREATE:
                    self._prepare_create(request)
                else:
                    self._prepare_update(request)
            except kmock.KubernetesError as error:
                return await self._render_error(error)
            return await super()._handle(request)

    def _prepare_create(self, request: kmock.Request) -> None:
        if not isinstance(request.data, dict):
            return
        meta = request.data.setdefault("metadata", {})
        if request.namespace and not meta.get("namespace"):
            meta["namespace"] = request.namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"  # kmock ignores generateName
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["generation"] = 1
        meta["resourceVersion"] = str(next(self._versions))
        meta.pop("deletionTimestamp", None)
        if self._has_status_subresource(request.resource):
            request.data.pop("status", None)  # the status subresource ignores status on create

    def _prepare_update(self, request: kmock.Request) -> None:
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return  # the parent answers 404
        current = copy.deepcopy(self.objects[key].raw)
        to_status = request.subresource == "status"
        separate = self._has_status_subresource(request.resource)
        data = request.data
        if isinstance(data, dict):
            if separate and to_status:
                kept = {"status": data.get("status")} if "status" in data else {}
                data.clear()
                data.update(kept)
            elif separate:
                data.pop("status", None)
            new = kmock_dicts.patch_dict(current, data)
        elif isinstance(data, list):
            if separate:
                data[:] = [
                    op for op in data
                    if op.get("op") == "test" or str(op.get("path", "")).startswith("/status") == to_status
                ]
            try:
                new = jsonpatch.apply_patch(current, data, in_place=False)
            except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPointerException) as error:
                raise kmock.KubernetesError(status=422, reason="Invalid", message=f"the JSON patch does not apply: {error}")
        else:
            return
        meta = current.get("metadata", {})
        generation = int(meta.get("generation") or 1)
        if new.get("spec") != current.get("spec"):
            generation += 1
        version = str(next(self._versions))
        if isinstance(data, dict):
            data.setdefault("metadata", {})
            if not isinstance(data["metadata"], dict):
                data["metadata"] = {}
            data["metadata"]["resourceVersion"] = version
            data["metadata"]["generation"] = generation
        else:
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})
            data.append({"op": "add", "path": "/metadata/generation", "value": generation})


async def serve(host: str = "127.0.0.1", port: int = 6443, namespaces: Iterable[str] = ("default",)):
    """Start the emulator; returns (emulator, server) — exit `server` to stop it."""
    emulator = SciaKubernetesEmulator()
    await emulator.__aenter__()
    server = kmock.Server(emulator, host=host, port=port)
    await server.__aenter__()
    for name in namespaces:
        emulator.objects["v1/namespaces", None, name] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": "1", "creationTimestamp": _now()},
        }
    return emulator, server


async def _main(host: str, port: int, namespaces: list[str]) -> None:
    emulator, server = await serve(host, port, namespaces)
    print(
        f"Kubernetes API emulator on {server.url} (in memory: it forgets everything on exit); "
        f"serving {', '.join(k.key for k in SERVED_KINDS)}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="scia-k8s-emulator",
        description="An in-memory Kubernetes API with the SCIA kinds, on loopback. It forgets everything on exit.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port (default 6443; 0 picks a free one)")
    parser.add_argument("--namespace", action="append", default=None, help="namespace to create (repeatable; default: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_main(args.host, args.port, args.namespace or ["default"]))


if __name__ == "__main__":
    main()
