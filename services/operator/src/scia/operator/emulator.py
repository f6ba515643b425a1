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
  an optimistic-concurrency conflict and retries), instead of a 500;
- watches as clients expect them (`_serve_watch`): no event lost between the initial listing and
  the live stream, BOOKMARK events every `bookmark_seconds` when asked (`allowWatchBookmarks`),
  and a watch resumed from a `resourceVersion` sends only what changed since, not every object
  again; lists carry a `resourceVersion` to watch from.
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


def _version(value: Any) -> int | None:
    """A resourceVersion as a number (this emulator's are a counter), None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Put on every watch bus every `bookmark_seconds`: wakes the streams to send a BOOKMARK.
_BOOKMARK_TICK = object()


@attrs.define(kw_only=True)
class SciaKubernetesEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus uid/generation/resourceVersion bookkeeping and a real status subresource."""

    _versions: Any = attrs.field(factory=lambda: itertools.count(1), init=False)
    # Serialises the read-compute-write of object-changing requests (kmock's own lock is not
    # re-entrant and is taken again inside the parent's _handle).
    _write_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)
    # Requests being served now (by id), see _forget_served_requests.
    _in_flight: set[int] = attrs.field(factory=set, init=False)
    # A real API server sends a BOOKMARK about every minute; kopf drops and re-opens a watch that
    # is silent for 70 s (WatchingSettings.inactivity_timeout), which here re-sent every object.
    bookmark_seconds: float = 30.0
    _ticker: asyncio.Task | None = attrs.field(default=None, init=False)

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

    # --- watches ------------------------------------------------------------------------------

    async def _serve_list(self, request: kmock.Request) -> Any:
        """kmock's list, with a resourceVersion to watch from (kmock answers '...'): the highest of
        the listed objects, so a watch from it sends whatever was written after the listing."""
        payload = await super()._serve_list(request)
        versions = [_version(item.get("metadata", {}).get("resourceVersion")) for item in payload["items"]]
        payload["metadata"]["resourceVersion"] = str(max((v for v in versions if v is not None), default=0))
        return payload

    async def _serve_watch(self, request: kmock.Request):  # type: ignore[override]
        """kmock's watch, fixed and completed (see the module docstring).

        kmock lists the objects under its lock, sends them, and only then starts reading the
        resource's event bus: an object created while a large listing was being sent was in
        neither, and that watcher never heard of it (tests/operator/test_emulator.py). Here the
        bus position is taken under the same lock as the listing, and kmock writes and publishes
        under that lock, so every write is in exactly one of the two.
        """
        yield b""  # the headers: the client sees the stream open
        assert request.resource is not None
        bus = self._buses[request.resource]
        since = _version(request.params.get("resourceVersion"))
        bookmarks = request.params.get("allowWatchBookmarks") == "true"
        check = self._KubernetesEmulator__check  # kmock's name/namespace match
        async with self._lock:
            marker = await bus.mark()
            listed = [obj.raw for obj in self._KubernetesEmulator__get_objs(request, strict=False) if not obj.deleted]
        self._start_ticker()
        # Resumed from a version (kopf after a timeout): what changed since, not everything again.
        # (A deletion in the gap between two watch requests is not replayed: kmock keeps no log.)
        kind = "ADDED" if since is None else "MODIFIED"
        newest = since or 0
        try:
            for raw in listed:
                version = _version(raw.get("metadata", {}).get("resourceVersion"))
                if since is None or version is None or version > since:
                    newest = max(newest, version or 0)
                    yield {"type": kind, "object": raw}
            async for event in bus.stream(since=marker):
                if event is _BOOKMARK_TICK:
                    if bookmarks:
                        yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(newest)}}}
                    continue
                meta = (event.get("object") or {}).get("metadata", {})
                if check(request, request.resource, meta.get("namespace"), meta.get("name"), strict=False):
                    newest = max(newest, _version(meta.get("resourceVersion")) or 0)
                    yield event
        finally:
            await bus.unmark(marker)

    def _start_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="emulator bookmarks")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.bookmark_seconds)
            for bus in list(self._buses.values()):
                await bus.put(_BOOKMARK_TICK)

    async def __aexit__(self, *exc: Any) -> Any:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        return await super().__aexit__(*exc)

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
