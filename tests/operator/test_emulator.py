"""The local Kubernetes API emulator: the SCIA kinds it serves match crds/, and it does the
bookkeeping clients rely on (uid, generation, resourceVersion, the status subresource)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scia.operator.emulator import SCIA_KINDS
from tests.operator.harness import emulated_cluster

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
