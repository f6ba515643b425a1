"""One Kubernetes watch per namespace, shared by every subscriber of this gateway replica.

A `SharedWatch` is a small informer: it lists the namespace's Deployments, keeps the latest
object of each in memory, and follows a watch from the list's resourceVersion. It restarts from
the last resourceVersion it saw when a connection drops, lists again when the API server answers
410 Gone (turning the difference into events), and stops as soon as its last subscriber leaves.

Subscribers get the current objects first (a snapshot of the cache, so nobody waits for a
replay), then every change. Each has its own bounded queue: one that falls `queue_size` events
behind is disconnected with `SlowSubscriber` rather than slowing the others or growing memory
without bound; its client resubscribes and starts again from the current state.

The watch runs with the gateway's own identity. Authorization stays per subscriber: the
resolver checks the caller's role before subscribing, and with impersonation on, `subscribe`
asks the API server whether the caller may list the namespace's Deployments (their own RBAC).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from prometheus_client import Gauge

from scia.gateway.kube import DEPLOYMENTS, Identity, KubeClient, KubeError, WatchExpired

log = logging.getLogger(__name__)

OPEN_WATCHES = Gauge("scia_gateway_shared_watches", "Kubernetes watches open for subscriptions (one per namespace).")
SUBSCRIBERS = Gauge("scia_gateway_subscribers", "Subscribers fed by the shared watches.")

_END = object()  # queued after a fatal error or an overflow: the subscriber's stream ends


class SlowSubscriber(Exception):
    """The subscriber fell too far behind and was disconnected."""


def fingerprint(obj: dict) -> tuple:
    """What makes a new version of an object worth sending. resourceVersion alone would do
    against a real API server; the emulator sets none and replays every object on reconnect."""
    meta = obj.get("metadata") or {}
    return (meta.get("resourceVersion"), repr(obj.get("spec")), repr(obj.get("status")), repr(meta.get("deletionTimestamp")))


def changes(store: dict[str, dict], items: list[dict]) -> list[tuple[str, dict]]:
    """The events that turn `store` into `items` (a fresh list after a 410): ADDED, MODIFIED
    for changed objects and DELETED for the ones that disappeared."""
    events: list[tuple[str, dict]] = []
    fresh = {(o.get("metadata") or {}).get("name", ""): o for o in items}
    for name, obj in fresh.items():
        old = store.get(name)
        if old is None:
            events.append(("ADDED", obj))
        elif fingerprint(old) != fingerprint(obj):
            events.append(("MODIFIED", obj))
    events.extend(("DELETED", obj) for name, obj in store.items() if name not in fresh)
    return events


@dataclass(eq=False)
class Subscriber:
    name: str | None  # only this Deployment, or all of the namespace
    queue: asyncio.Queue
    initial: list[tuple[str, dict]] = field(default_factory=list)
    error: Exception | None = None

    def wants(self, obj: dict) -> bool:
        return self.name is None or (obj.get("metadata") or {}).get("name") == self.name

    def offer(self, event: tuple[str, dict], limit: int) -> bool:
        """Queue an event without waiting; False (and the stream ends) when it is full."""
        if self.queue.qsize() >= limit:
            self.end(SlowSubscriber(
                f"the subscription fell more than {limit} events behind and was closed; subscribe again to resume from the current state"
            ))
            return False
        self.queue.put_nowait(event)
        return True

    def end(self, error: Exception | None) -> None:
        self.error = error
        # Pending events are dropped: after an error the client resubscribes from the current state.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_END)


class SharedWatch:
    def __init__(self, kube: KubeClient, namespace: str, queue_size: int, on_idle) -> None:
        self.kube = kube
        self.namespace = namespace
        self.queue_size = queue_size
        self.on_idle = on_idle
        self.store: dict[str, dict] = {}
        self.subscribers: set[Subscriber] = set()
        self.joining = 0  # subscribers waiting for the first list: the watch must not stop under them
        self.ready = asyncio.Event()  # set once listed (or failed for good)
        self.failure: KubeError | None = None
        self.task = asyncio.create_task(self._run(), name=f"watch {DEPLOYMENTS} {namespace}")
        OPEN_WATCHES.inc()

    # --- the informer ------------------------------------------------------------------------
    async def _run(self) -> None:
        resource_version, backoff = "", 0.2
        try:
            while True:
                try:
                    if not resource_version:
                        items, resource_version = await self.kube.list_with_version(DEPLOYMENTS, self.namespace, None)
                        for kind, obj in changes(self.store, items):
                            self._apply(kind, obj)
                        self.ready.set()
                    async for event in self.kube.watch_stream(DEPLOYMENTS, self.namespace, None, resource_version=resource_version):
                        obj = event.get("object") or {}
                        version = (obj.get("metadata") or {}).get("resourceVersion")
                        if version:
                            resource_version = version
                        if event.get("type") != "BOOKMARK":
                            self._apply(event.get("type", "MODIFIED"), obj)
                        backoff = 0.2
                    # The server closed the stream (its timeout): resume from resource_version.
                except WatchExpired:
                    log.info("watch of %s in %s expired (410): listing again", DEPLOYMENTS, self.namespace)
                    resource_version = ""
                    continue
                except KubeError as error:
                    if error.status in (401, 403, 404):
                        raise
                    log.warning("watch of %s in %s failed, retrying: %s", DEPLOYMENTS, self.namespace, error)
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                    log.warning("watch of %s in %s dropped, resuming: %r", DEPLOYMENTS, self.namespace, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        except KubeError as error:
            # The gateway itself may not watch here: every subscriber gets the refusal.
            self.failure = error
            self.ready.set()
            for subscriber in list(self.subscribers):
                subscriber.end(error)
                self.subscribers.discard(subscriber)
                SUBSCRIBERS.dec()
            self.on_idle(self)

    def _apply(self, kind: str, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        # A misbehaving backend must not leak another namespace's objects to this one's subscribers.
        if meta.get("namespace") != self.namespace:
            return
        name = meta.get("name", "")
        if kind == "DELETED":
            if self.store.pop(name, None) is None:
                return
        else:
            old = self.store.get(name)
            if old is not None and fingerprint(old) == fingerprint(obj):
                return  # a replay (reconnect, emulator) that changes nothing
            self.store[name] = obj
        for subscriber in list(self.subscribers):
            if subscriber.wants(obj) and not subscriber.offer((kind, obj), self.queue_size):
                self._remove(subscriber)

    # --- subscribers ---------------------------------------------------------------------------
    def add(self, name: str | None) -> Subscriber:
        """Called once `ready`: the snapshot and the registration happen without an await in
        between, so no event falls between the current state and the stream."""
        subscriber = Subscriber(name, asyncio.Queue())
        subscriber.initial = [("ADDED", obj) for key, obj in sorted(self.store.items()) if subscriber.wants(obj)]
        self.subscribers.add(subscriber)
        SUBSCRIBERS.inc()
        return subscriber

    def _remove(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            SUBSCRIBERS.dec()
        self.stop_if_idle()

    def stop_if_idle(self) -> None:
        if not self.subscribers and not self.joining:
            self.on_idle(self)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class WatchHub:
    """The shared watches of one gateway process, by namespace."""

    def __init__(self, kube: KubeClient, queue_size: int = 256) -> None:
        self.kube = kube
        self.queue_size = queue_size
        self.watches: dict[str, SharedWatch] = {}

    def _idle(self, watch: SharedWatch) -> None:
        if self.watches.get(watch.namespace) is watch:
            del self.watches[watch.namespace]
            OPEN_WATCHES.dec()
            watch.task.cancel()  # closes the HTTP stream to the API server

    async def subscribe(self, namespace: str, name: str | None, identity: Identity) -> AsyncIterator[tuple[str, dict]]:
        """(type, object) events of the namespace's Deployments (of `name` only, if given): the
        current objects first, as ADDED. Raises KubeError (refused) or SlowSubscriber."""
        await self.kube.check_list(DEPLOYMENTS, namespace, identity)
        watch = self.watches.get(namespace)
        if watch is None:
            watch = self.watches[namespace] = SharedWatch(self.kube, namespace, self.queue_size, self._idle)
        watch.joining += 1
        try:
            await watch.ready.wait()
        except BaseException:  # the client left (or the server stops) before the first list
            watch.joining -= 1
            watch.stop_if_idle()
            raise
        watch.joining -= 1
        if watch.failure is not None:
            raise watch.failure
        subscriber = watch.add(name)
        try:
            for event in subscriber.initial:
                yield event
            subscriber.initial = []
            while True:
                event = await subscriber.queue.get()
                if event is _END:
                    if subscriber.error is not None:
                        raise subscriber.error
                    return
                yield event
        finally:
            watch._remove(subscriber)

    async def close(self) -> None:
        for watch in list(self.watches.values()):
            watch.failure = watch.failure or KubeError(503, "Unavailable", "the gateway is shutting down")
            watch.ready.set()
            for subscriber in list(watch.subscribers):
                subscriber.end(watch.failure)
                watch.subscribers.discard(subscriber)
                SUBSCRIBERS.dec()
            self._idle(watch)
            await watch.stop()
