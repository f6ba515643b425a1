"""The local Kubernetes API emulator: the SCIA kinds it serves match crds/, and it does the
bookkeeping clients rely on (uid, generation, resourceVersion, the status subresource)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
import yaml

from scia.operator.emulator import SCIA_KINDS
from scia.operator.emulator import serve as serve_emulator
from tests.operator.harness import Cluster, emulated_cluster, eventually

ROOT = Path(__file__).resolve().parents[2]


def test_served_kinds_match_the_crds():
    from_crds = set()
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names, spec = crd["spec"]["names"], crd["spec"]
        version = next(v for v in spec["versions"] if v.get("served", True))
        status = "status" in (version.get("subresources") or {}) or crd["apiVersion"].startswith("apiextensions.crossplane.io/")
        from_crds.add((spec["group"], version["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced", status, tuple(names.get("shortNames") or ())))
    served = {(k.group, k.version, k.plural, k.kind, k.namespaced, k.status_subresource, k.shortnames) for k in SCIA_KINDS}
    assert served == from_crds


@pytest.mark.asyncio
async def test_bookkeeping_of_a_real_api_server():
    async with emulated_cluster() as cluster:
        body = {"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"prompt": "a"}, "status": {"phase": "Running"}}
        created = await cluster.create("deployments", "team-a", body)
        meta = created["metadata"]
        assert meta["namespace"] == "team-a" and meta["generation"] == 1 and meta["uid"] and meta["resourceVersion"]
        assert "status" not in created  # the status subresource ignores status on create

        labelled = await cluster.patch("deployments", "team-a", "d", {"metadata": {"labels": {"x": "y"}}, "status": {"phase": "Failed"}})
        assert labelled["metadata"]["generation"] == 1 and "status" not in labelled  # no spec change, status ignored
        assert int(labelled["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

        changed = await cluster.patch("deployments", "team-a", "d", {"spec": {"prompt": "b"}})
        assert changed["metadata"]["generation"] == 2

        status = await cluster.patch("deployments", "team-a", "d", {"spec": {"prompt": "c"}, "status": {"phase": "Planning"}}, status=True)
        assert status["status"] == {"phase": "Planning"} and status["spec"] == {"prompt": "b"} and status["metadata"]["generation"] == 2

        # A JSON patch whose test fails is a 422 conflict, as kopf expects.
        url = f"{cluster.url}/apis/scia.io/v1alpha1/namespaces/team-a/deployments/d"
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}, {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]
        async with cluster.session.patch(url, json=ops, headers={"Content-Type": "application/json-patch+json"}) as rsp:
            assert rsp.status == 422
        current = await cluster.get("deployments", "team-a", "d")
        ops[0]["value"] = current["metadata"]["resourceVersion"]
        async with cluster.session.patch(url, json=ops, headers={"Content-Type": "application/json-patch+json"}) as rsp:
            assert rsp.status == 200 and (await rsp.json())["metadata"]["finalizers"] == ["f"]

        # Events get names from generateName (kopf relies on it).
        events_url = f"{cluster.url}/api/v1/namespaces/team-a/events"
        for _ in range(2):
            async with cluster.session.post(events_url, json={"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "kopf-event-"}}) as rsp:
                assert rsp.status == 200
        assert len(await cluster.events("team-a")) == 2


# --- watches ------------------------------------------------------------------------------------

PROVIDERS = "/apis/scia.io/v1alpha1/namespaces/team-w/cloudproviders"
PEERINGS = "/apis/kopf.dev/v1/clusterkopfpeerings"


def provider(name: str) -> dict:
    return {"apiVersion": "scia.io/v1alpha1", "kind": "CloudProvider", "metadata": {"name": name}, "spec": {"type": "aws"}}


class Watch:
    """A raw watch stream: every event in order, and the latest body per name."""

    def __init__(self, cluster, path: str, **params: str) -> None:
        self.cluster, self.path, self.params = cluster, path, {"watch": "true", **params}
        self.events: list[dict] = []
        self.latest: dict[str, dict] = {}
        self.opened = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with self.cluster.session.get(f"{self.cluster.url}{self.path}", params=self.params) as response:
            self.opened.set()  # headers received: a client like kopf now counts the watch as open
            async for line in response.content:
                if line.strip():
                    event = json.loads(line)
                    self.events.append(event)
                    if event["type"] != "BOOKMARK":
                        self.latest[event["object"]["metadata"]["name"]] = event["object"]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_write_while_a_watch_sends_its_listing_is_not_lost():
    """kmock listed the objects, sent them, and only then subscribed to new events: a write made
    while the listing was being sent reached neither, and that watcher never heard of it. The
    listing here is large (~8 MB) and the client reads nothing until the create is done, so the
    server is stuck sending it when the create comes (lost every time before the fix; a patched
    object happened to show up anyway, as kmock's listing shares the objects' nested dicts)."""
    emulator, server = await serve_emulator(port=0)
    url = str(server.url).rstrip("/")
    key = "scia.io/v1alpha1/cloudproviders"
    padding = "x" * 4000
    for i in range(2000):
        body = provider(f"p{i:04d}")
        body["metadata"].update(namespace="team-w", resourceVersion="1", annotations={"padding": padding})
        emulator.objects[key, "team-w", body["metadata"]["name"]] = body  # no HTTP: fast to fill
    try:
        async with aiohttp.ClientSession() as session:
            cluster = Cluster(url, session)
            response = await session.get(f"{url}{PROVIDERS}", params={"watch": "true"})  # headers only
            await cluster.create("cloudproviders", "team-w", provider("new"))
            seen: set[str] = set()

            async def read() -> None:
                async for line in response.content:
                    if line.strip():
                        seen.add(json.loads(line)["object"]["metadata"]["name"])
                        if "new" in seen:
                            return

            reading = asyncio.create_task(read())
            done, _ = await asyncio.wait({reading}, timeout=20)
            reading.cancel()
            response.close()
            assert done, f"an object created while the listing was sent never arrived ({len(seen)} others did)"
    finally:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)


@pytest.mark.asyncio
async def test_a_cluster_scoped_peering_write_reaches_every_watcher():
    """kopf's peering: each replica watches the ClusterKopfPeering and patches its own entry."""
    async with emulated_cluster() as cluster:
        async with cluster.session.post(f"{cluster.url}{PEERINGS}", json={"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "p"}}) as rsp:
            assert rsp.status == 200
        watches = [Watch(cluster, PEERINGS) for _ in range(3)]
        await asyncio.gather(*(w.opened.wait() for w in watches))
        for replica in ("a", "b"):
            patch = {"status": {f"replica-{replica}": {"priority": ord(replica), "lifetime": 60}}}
            headers = {"Content-Type": "application/merge-patch+json"}
            async with cluster.session.patch(f"{cluster.url}{PEERINGS}/p", json=patch, headers=headers) as rsp:
                assert rsp.status == 200

        async def everyone_saw_both():
            return all(set((w.latest.get("p") or {}).get("status") or {}) == {"replica-a", "replica-b"} for w in watches)

        await eventually(everyone_saw_both, timeout=10, what="every watcher sees both replicas")
        for watch in watches:
            await watch.close()


@pytest.mark.asyncio
async def test_lists_give_a_version_and_a_watch_from_it_sends_only_later_changes():
    async with emulated_cluster() as cluster:
        for name in ("a", "b"):
            await cluster.create("cloudproviders", "team-w", provider(name))
        async with cluster.session.get(f"{cluster.url}{PROVIDERS}") as rsp:
            listing = await rsp.json()
        since = listing["metadata"]["resourceVersion"]
        assert int(since) == max(int(i["metadata"]["resourceVersion"]) for i in listing["items"])
        await cluster.patch("cloudproviders", "team-w", "b", {"spec": {"defaultRegion": "eu-west-3"}})
        await cluster.create("cloudproviders", "team-w", provider("c"))
        resumed = Watch(cluster, PROVIDERS, resourceVersion=since)
        from_scratch = Watch(cluster, PROVIDERS)

        async def both_caught_up():
            return set(resumed.latest) == {"b", "c"} and set(from_scratch.latest) == {"a", "b", "c"}

        await eventually(both_caught_up, timeout=10, what="resumed watch: b and c only; new watch: all")
        assert [e["object"]["metadata"]["name"] for e in resumed.events] == ["b", "c"]  # not "a" again
        assert resumed.latest["b"]["spec"]["defaultRegion"] == "eu-west-3"
        await resumed.close()
        await from_scratch.close()


@pytest.mark.asyncio
async def test_bookmarks_keep_an_idle_watch_alive():
    """kopf re-opens a watch silent for 70 s; a real API server sends BOOKMARKs (about every
    minute) when asked with allowWatchBookmarks. Without them every idle watch was re-opened and,
    here, every object re-sent."""
    emulator, server = await serve_emulator(port=0)
    emulator.bookmark_seconds = 0.2
    url = str(server.url).rstrip("/")
    try:
        async with aiohttp.ClientSession() as session:
            cluster = Cluster(url, session)
            created = await cluster.create("cloudproviders", "team-w", provider("a"))
            asked, not_asked = Watch(cluster, PROVIDERS, allowWatchBookmarks="true"), Watch(cluster, PROVIDERS)

            async def bookmarked():
                return sum(e["type"] == "BOOKMARK" for e in asked.events) >= 2

            await eventually(bookmarked, timeout=10, what="bookmarks on an idle watch")
            bookmark = next(e for e in asked.events if e["type"] == "BOOKMARK")
            assert bookmark["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
            assert [e["type"] for e in not_asked.events] == ["ADDED"]
            await asked.close()
            await not_asked.close()
    finally:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)
