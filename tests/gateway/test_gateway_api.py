"""The gateway over real HTTP and WebSockets on loopback, against the Kubernetes emulator and the
real planner, RAG and embedder services."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import kmock
import pytest
from prometheus_client import REGISTRY
from scia.gateway.kube import Identity, KubeClient
from scia.gateway.watches import SlowSubscriber, WatchHub
from scia.v1 import common_pb2, rag_pb2

from tests.gateway.conftest import namespace
from tests.planner.conftest import make_git_repo

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROVIDER = {"type": "aws", "credentialsSecretRef": {"name": "aws-creds"}, "defaultRegion": "eu-west-3",
            "allowedRegions": ["eu-west-3", "eu-west-1"], "costControl": {"monthlyBudget": 500},
            "quotas": {"maxDeployments": 3}}
SPEC = {"repository": {"url": "https://github.com/acme/shop.git", "ref": "main"}, "prompt": "Flask API with HA",
        "cloudProvider": "aws-main", "region": "eu-west-3", "budget": {"maxMonthlyCost": 300},
        "policies": ["require_https", "enable_monitoring"]}

CREATE_PROVIDER = """mutation($ns: String!, $name: String!, $spec: CloudProviderSpecInput!) {
  createCloudProvider(namespace: $ns, name: $name, spec: $spec) {
    cloudProvider { id type defaultRegion allowedRegions monthlyBudget credentialsSecretRef { name key } }
    errors { code field message } } }"""
CREATE = """mutation($ns: String!, $name: String!, $spec: DeploymentSpecInput!) {
  createDeployment(namespace: $ns, name: $name, spec: $spec) {
    deployment { id name phase spec { strategy policies paused cloudProvider budget { maxMonthlyCost alertThreshold enforcementMode } } }
    errors { code field message } } }"""


def backend_calls() -> dict[tuple[str, str], float]:
    calls = {}
    for metric in REGISTRY.collect():
        if metric.name == "scia_gateway_backend_calls":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    calls[(sample.labels["backend"], sample.labels["method"])] = sample.value
    return calls


def calls_between(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


async def team(gateway, ns: str, *, provider: dict | None = None) -> str:
    """An admin token of a fresh team with one CloudProvider."""
    admin = gateway.token("alice", f"{ns}:admin")
    body = await gateway.gql(CREATE_PROVIDER, admin, ns=ns, name="aws-main", spec=provider or PROVIDER)
    assert body["data"]["createCloudProvider"]["errors"] == [], body
    return admin


# --- authentication ------------------------------------------------------------------------

async def test_requests_without_or_with_a_bad_token_get_a_clear_401(gateway):
    status, body = await gateway.post({"query": "{ me { user } }"}, None)
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "missing Authorization header" in body["errors"][0]["message"]
    status, body = await gateway.post({"query": "{ me { user } }"}, "not-a-jwt")
    assert status == 401 and "malformed token" in body["errors"][0]["message"]
    from scia.gateway.auth import issue_token
    forged = issue_token("another-key-of-at-least-32-characters!!", "mallory", ["x:admin"], ttl_seconds=60)
    status, body = await gateway.post({"query": "{ me { user } }"}, forged)
    assert status == 401 and "Signature verification failed" in body["errors"][0]["message"]
    expired = issue_token("gateway-tests-shared-key-0123456789abcdef", "bob", [], ttl_seconds=-120)
    status, body = await gateway.post({"query": "{ me { user } }"}, expired)
    assert status == 401 and "token expired" in body["errors"][0]["message"]


async def test_me_lists_the_callers_tenants_and_roles(gateway):
    token = gateway.token("carol", "team-x:viewer", "team-y:deployer", "engineering")
    body = await gateway.gql("{ me { user groups tenants { namespace role } } }", token)
    assert body["data"]["me"] == {"user": "carol", "groups": ["team-x:viewer", "team-y:deployer", "engineering"],
                                  "tenants": [{"namespace": "team-x", "role": "viewer"}, {"namespace": "team-y", "role": "deployer"}]}


# --- mutations and queries -------------------------------------------------------------------

async def test_create_query_update_rollback_delete_a_deployment(gateway, kube):
    ns = namespace()
    await team(gateway, ns)
    deployer = gateway.token("dave", f"{ns}:deployer")
    body = await gateway.gql(CREATE, deployer, ns=ns, name="shop", spec=SPEC)
    result = body["data"]["createDeployment"]
    assert result["errors"] == []
    # The CRD's defaults were applied before writing, as the API server would.
    assert result["deployment"]["spec"]["strategy"] == "auto" and result["deployment"]["spec"]["paused"] is False
    assert result["deployment"]["spec"]["budget"] == {"maxMonthlyCost": 300.0, "alertThreshold": 0.8, "enforcementMode": "soft"}
    assert result["deployment"]["spec"]["policies"] == ["require_https", "enable_monitoring"]
    stored = await kube.get_object("deployments", ns, "shop")
    assert stored["spec"]["policies"] == ["require-https", "enable-monitoring"]

    # The operator reconciles: status with a decision, cost and history.
    await kube.patch_status(ns, "shop", {
        "phase": "Running", "endpoints": ["https://shop.example.com"],
        "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-11-28T10:00:00Z"}],
        "decision": {"strategy": "vm", "reason": "small Flask API", "confidence": 0.9, "engine": "knowledge-base",
                     "alternatives": [{"strategy": "serverless", "reason": "cold starts", "confidence": 0.4, "estimatedMonthlyCost": 20}],
                     "citations": [{"recordId": "r1", "summary": "team rev 1 ok", "outcome": "Success", "score": 0.8}]},
        "cost": {"estimatedMonthly": 120.5, "currency": "USD", "budgetVerdict": "Within", "items": [{"name": "ec2", "monthly": 120.5}]},
        "history": [{"revision": 1, "timestamp": "2026-11-28T10:00:00Z", "strategy": "vm"},
                    {"revision": 2, "timestamp": "2026-11-28T11:00:00Z", "strategy": "vm"}],
    })
    await kube.add_event(ns, "shop", "Planned", "planned vm", "2026-11-28T10:00:00Z")
    await kube.add_event(ns, "shop", "Provisioned", "infrastructure ready", "2026-11-28T10:05:00Z")
    viewer = gateway.token("erin", f"{ns}:viewer")
    body = await gateway.gql("""query($ns: String!) { deployment(namespace: $ns, name: "shop") {
        phase endpoints conditions { type status } cost { estimatedMonthly items { name monthly } }
        decision { strategy confidence alternatives { strategy estimatedMonthlyCost } citations { recordId outcome score } }
        history { revision strategy } events { reason message } } }""", viewer, ns=ns)
    d = body["data"]["deployment"]
    assert d["phase"] == "Running" and d["endpoints"] == ["https://shop.example.com"]
    assert d["decision"]["alternatives"] == [{"strategy": "serverless", "estimatedMonthlyCost": 20.0}]
    assert d["decision"]["citations"][0] == {"recordId": "r1", "outcome": "Success", "score": 0.8}
    assert [e["reason"] for e in d["events"]] == ["Provisioned", "Planned"]  # newest first

    update = """mutation($ns: String!, $spec: DeploymentSpecPatch!) { updateDeployment(namespace: $ns, name: "shop", spec: $spec) {
        deployment { spec { prompt region repository { url ref } } } errors { code field message } } }"""
    body = await gateway.gql(update, deployer, ns=ns, spec={"prompt": "now with autoscaling", "region": "eu-west-1"})
    assert body["data"]["updateDeployment"] == {"deployment": {"spec": {
        "prompt": "now with autoscaling", "region": "eu-west-1",
        "repository": {"url": "https://github.com/acme/shop.git", "ref": "main"}}}, "errors": []}
    body = await gateway.gql(update, deployer, ns=ns, spec={"region": "us-east-1"})
    assert body["data"]["updateDeployment"]["errors"][0]["code"] == "VALIDATION"
    assert body["data"]["updateDeployment"]["errors"][0]["field"] == ["spec", "region"]

    rollback = """mutation($ns: String!, $rev: Int!) { rollbackDeployment(namespace: $ns, name: "shop", revision: $rev) {
        deployment { spec { rollbackTo } } errors { code field message } } }"""
    body = await gateway.gql(rollback, deployer, ns=ns, rev=7)
    assert body["data"]["rollbackDeployment"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["revision"], "message": "revision 7 is not in the history (known: 1, 2)"}]
    body = await gateway.gql(rollback, deployer, ns=ns, rev=1)
    assert body["data"]["rollbackDeployment"] == {"deployment": {"spec": {"rollbackTo": 1}}, "errors": []}

    delete = """mutation($ns: String!, $name: String!) { deleteDeployment(namespace: $ns, name: $name) { deleted errors { code field } } }"""
    body = await gateway.gql(delete, viewer, ns=ns, name="shop")
    assert body["data"]["deleteDeployment"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gateway.gql(delete, deployer, ns=ns, name="shop")
    assert body["data"]["deleteDeployment"] == {"deleted": True, "errors": []}
    body = await gateway.gql(delete, deployer, ns=ns, name="shop")
    assert body["data"]["deleteDeployment"]["errors"] == [{"code": "NOT_FOUND", "field": ["name"]}]
    body = await gateway.gql('query($ns: String!) { deployment(namespace: $ns, name: "shop") { name } }', viewer, ns=ns)
    assert body == {"data": {"deployment": None}}


async def test_mutations_answer_typed_field_level_errors(gateway):
    ns = namespace()
    await team(gateway, ns, provider={**PROVIDER, "quotas": {"maxDeployments": 1}})
    deployer = gateway.token("dave", f"{ns}:deployer")
    cases = [
        ({**SPEC, "repository": {"url": "ftp://example.com/x"}}, "VALIDATION", ["spec", "repository", "url"]),
        ({**SPEC, "region": "EU WEST"}, "VALIDATION", ["spec", "region"]),
        ({**SPEC, "budget": {"alertThreshold": 0}}, "VALIDATION", ["spec", "budget", "alertThreshold"]),
        ({**SPEC, "policies": ["require_https", "require_https"]}, "VALIDATION", ["spec", "policies"]),
        ({**SPEC, "cloudProvider": "gcp-main"}, "NOT_FOUND", ["spec", "cloudProvider"]),
        ({**SPEC, "budget": {"maxMonthlyCost": 900}}, "BUDGET", ["spec", "budget", "maxMonthlyCost"]),
    ]
    for spec, code, field in cases:
        result = (await gateway.gql(CREATE, deployer, ns=ns, name="shop", spec=spec))["data"]["createDeployment"]
        assert result["deployment"] is None
        assert [(e["code"], e["field"]) for e in result["errors"]] == [(code, field)], (spec, result)
    result = (await gateway.gql(CREATE, deployer, ns=ns, name="Bad_Name", spec=SPEC))["data"]["createDeployment"]
    assert result["errors"][0]["field"] == ["metadata", "name"]
    assert (await gateway.gql(CREATE, deployer, ns=ns, name="one", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    result = (await gateway.gql(CREATE, deployer, ns=ns, name="one", spec=SPEC))["data"]["createDeployment"]
    assert result["errors"][0]["code"] in ("QUOTA", "CONFLICT")
    result = (await gateway.gql(CREATE, deployer, ns=ns, name="two", spec=SPEC))["data"]["createDeployment"]
    assert result["errors"] == [{"code": "QUOTA", "field": ["spec", "cloudProvider"],
                                 "message": "CloudProvider 'aws-main' allows 1 deployment(s) and 1 already use it"}]
    # Deployers cannot manage CloudProviders; admins cannot change their type.
    result = (await gateway.gql(CREATE_PROVIDER, deployer, ns=ns, name="x", spec=PROVIDER))["data"]["createCloudProvider"]
    assert result["errors"][0]["code"] == "FORBIDDEN"
    admin = gateway.token("alice", f"{ns}:admin")
    update = """mutation($ns: String!, $spec: CloudProviderSpecInput!) { updateCloudProvider(namespace: $ns, name: "aws-main", spec: $spec) {
        cloudProvider { type defaultRegion allowedRegions quotas } errors { code field message } } }"""
    result = (await gateway.gql(update, admin, ns=ns, spec={**PROVIDER, "type": "gcp"}))["data"]["updateCloudProvider"]
    assert result["errors"] == [{"code": "VALIDATION", "field": ["spec", "type"], "message": "type is immutable; create another CloudProvider"}]
    result = (await gateway.gql(update, admin, ns=ns, spec={**PROVIDER, "defaultRegion": "us-east-1"}))["data"]["updateCloudProvider"]
    assert result["errors"][0]["message"] == "defaultRegion must be one of allowedRegions"
    spec = {k: v for k, v in PROVIDER.items() if k not in ("allowedRegions", "quotas")}
    result = (await gateway.gql(update, admin, ns=ns, spec={**spec, "defaultRegion": "us-east-1"}))["data"]["updateCloudProvider"]
    assert result == {"cloudProvider": {"type": "aws", "defaultRegion": "us-east-1", "allowedRegions": [], "quotas": None}, "errors": []}


async def test_a_team_can_neither_read_nor_change_another_teams_resources(gateway, kube):
    team_a, team_b = namespace("a"), namespace("b")
    await team(gateway, team_a)
    assert (await gateway.gql(CREATE, gateway.token("ann", f"{team_a}:deployer"), ns=team_a, name="secret", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    intruder = gateway.token("bob", f"{team_b}:admin")
    reads = {
        "deployment": f'{{ deployment(namespace: "{team_a}", name: "secret") {{ name }} }}',
        "deployments": f'{{ deployments(namespace: "{team_a}") {{ totalCount }} }}',
        "cloudProviders": f'{{ cloudProviders(namespace: "{team_a}") {{ name }} }}',
        "costSummary": f'{{ costSummary(namespace: "{team_a}") {{ estimatedMonthly }} }}',
        "similarDeployments": f'{{ similarDeployments(namespace: "{team_a}", text: "flask") {{ reranker }} }}',
    }
    for field, query in reads.items():
        body = await gateway.gql(query, intruder)
        assert not body["data"] or body["data"] == {field: None}, (field, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        assert f"namespace {team_a!r} needs the viewer role; you have no role there" in body["errors"][0]["message"]
    writes = [
        (CREATE, {"ns": team_a, "name": "evil", "spec": SPEC}, "createDeployment"),
        ("""mutation($ns: String!) { deleteDeployment(namespace: $ns, name: "secret") { deleted errors { code } } }""", {"ns": team_a}, "deleteDeployment"),
        ("""mutation($ns: String!) { provideFeedback(namespace: $ns, name: "secret", vote: -1) { feedback { up } errors { code } } }""", {"ns": team_a}, "provideFeedback"),
        (CREATE_PROVIDER, {"ns": team_a, "name": "evil", "spec": PROVIDER}, "createCloudProvider"),
    ]
    for mutation, variables, field in writes:
        body = await gateway.gql(mutation, intruder, **variables)
        assert body["data"][field]["errors"][0]["code"] == "FORBIDDEN", (field, body)
    assert await kube.get_object("deployments", team_a, "secret") is not None
    assert await kube.get_object("deployments", team_a, "evil") is None
    # Subscriptions too: refused at subscribe time.
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.ws_url, protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {intruder}"}})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": f'subscription {{ deploymentUpdated(namespace: "{team_a}") {{ type deployment {{ name }} }} }}'}})
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_connection_filters_pagination_and_cost_summary(gateway, kube):
    ns = namespace()
    await team(gateway, ns, provider={**PROVIDER, "quotas": {}})
    deployer = gateway.token("dave", f"{ns}:deployer")
    for i, (phase, strategy, cost) in enumerate([("Running", "vm", 100), ("Failed", "serverless", 10), ("Running", "kubernetes", 250), ("Pending", None, None)]):
        name = f"app-{i}"
        assert (await gateway.gql(CREATE, deployer, ns=ns, name=name, spec=SPEC))["data"]["createDeployment"]["errors"] == []
        status = {"phase": phase}
        if strategy:
            status |= {"decision": {"strategy": strategy}, "cost": {"estimatedMonthly": cost, "actualThisMonth": cost / 2,
                                                                     "budgetVerdict": "Over" if cost > 200 else "Within"}}
        await kube.patch_status(ns, name, status)
    query = """query($ns: String!, $filter: DeploymentFilter, $first: Int, $after: String) {
        deployments(namespace: $ns, filter: $filter, first: $first, after: $after) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { name phase } } } }"""
    page = (await gateway.gql(query, deployer, ns=ns, first=2))["data"]["deployments"]
    assert [e["node"]["name"] for e in page["edges"]] == ["app-0", "app-1"] and page["pageInfo"]["hasNextPage"]
    page2 = (await gateway.gql(query, deployer, ns=ns, first=2, after=page["pageInfo"]["endCursor"]))["data"]["deployments"]
    assert [e["node"]["name"] for e in page2["edges"]] == ["app-2", "app-3"] and not page2["pageInfo"]["hasNextPage"]
    running = (await gateway.gql(query, deployer, ns=ns, filter={"phases": ["Running"], "maxMonthlyCost": 200}))["data"]["deployments"]
    assert running["totalCount"] == 1 and running["edges"][0]["node"]["name"] == "app-0"
    bad = await gateway.gql(query, deployer, ns=ns, after="garbage")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    summary = (await gateway.gql("""query($ns: String!) { costSummary(namespace: $ns) { deploymentCount estimatedMonthly actualThisMonth
        monthlyBudget budgetUsed overBudgetDeployments byStrategy { key estimatedMonthly } } }""", deployer, ns=ns))["data"]["costSummary"]
    assert summary == {"deploymentCount": 4, "estimatedMonthly": 360.0, "actualThisMonth": 180.0, "monthlyBudget": 500.0,
                       "budgetUsed": 0.72, "overBudgetDeployments": 1,
                       "byStrategy": [{"key": "kubernetes", "estimatedMonthly": 250.0}, {"key": "serverless", "estimatedMonthly": 10.0},
                                      {"key": "undecided", "estimatedMonthly": 0.0}, {"key": "vm", "estimatedMonthly": 100.0}]}


# --- memory and feedback -----------------------------------------------------------------------

def record(tenant: str, name: str, revision: int, framework: str, outcome=common_pb2.OUTCOME_SUCCESS) -> common_pb2.DeploymentRecord:
    return common_pb2.DeploymentRecord(
        tenant=tenant, name=name, uid=f"uid-{name}", revision=revision,
        repository=common_pb2.RepositoryRef(url=f"https://github.com/acme/{name}.git"),
        analysis=common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(language="python", framework=framework)]),
        intent=common_pb2.DeploymentIntent(prompt=f"{framework} api with high availability"),
        plan=common_pb2.Plan(strategy=common_pb2.STRATEGY_VM, cost=common_pb2.CostEstimate(monthly_total_usd=80),
                             configuration=common_pb2.Configuration(cloud=common_pb2.CLOUD_AWS, region="eu-west-3")),
        outcome=outcome,
    )


async def test_feedback_past_revisions_and_similar_deployments_through_the_memory(gateway, backends):
    ns = namespace()
    await team(gateway, ns)
    deployer = gateway.token("dave", f"{ns}:deployer")
    assert (await gateway.gql(CREATE, deployer, ns=ns, name="shop", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    feedback = """mutation($ns: String!, $vote: Int!) { provideFeedback(namespace: $ns, name: "shop", vote: $vote, comment: "fast") {
        feedback { revision up down votes { user vote comment } } errors { code field message } } }"""
    body = await gateway.gql(feedback, deployer, ns=ns, vote=1)
    assert body["data"]["provideFeedback"]["errors"][0]["code"] == "NOT_FOUND"  # nothing remembered yet
    rag = backends["rag"].stub
    # The operator records revisions as it applies them.
    for revision in (1, 2):
        await rag.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record(ns, "shop", revision, "flask")))
    await rag.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record(ns, "blog", 1, "django", common_pb2.OUTCOME_FAILED)))
    body = await gateway.gql(feedback, deployer, ns=ns, vote=0)
    assert body["data"]["provideFeedback"]["errors"] == [{"code": "VALIDATION", "field": ["vote"], "message": "vote must be +1 or -1, got 0"}]
    viewer = gateway.token("erin", f"{ns}:viewer")
    body = await gateway.gql(feedback, viewer, ns=ns, vote=-1)
    assert body["data"]["provideFeedback"] == {"feedback": {"revision": 2, "up": 0, "down": 1, "votes": [{"user": "erin", "vote": -1, "comment": "fast"}]}, "errors": []}
    body = await gateway.gql("""query($ns: String!) { deployment(namespace: $ns, name: "shop") {
        feedback { revision down } pastRevisions { revision framework strategy cloud estimatedMonthlyCost outcome } } }""", viewer, ns=ns)
    d = body["data"]["deployment"]
    assert d["feedback"] == {"revision": 2, "down": 1}
    assert [(r["revision"], r["framework"], r["strategy"], r["cloud"], r["outcome"]) for r in d["pastRevisions"]] == [
        (2, "flask", "vm", "aws", "Success"), (1, "flask", "vm", "aws", "Success")]
    body = await gateway.gql("""query($ns: String!) { similarDeployments(namespace: $ns, text: "django app that failed", limit: 3) {
        reranker fullTextOnly results { name tenant framework outcome score components { relevance recency } } } }""", viewer, ns=ns)
    similar = body["data"]["similarDeployments"]
    assert similar["results"][0]["name"] == "blog" and similar["results"][0]["outcome"] == "Failed"
    assert all(r["tenant"] == ns for r in similar["results"]) and 0 <= similar["results"][0]["score"] <= 1
    body = await gateway.gql("""query($ns: String!) { similarDeployments(namespace: $ns, deployment: "shop") { results { name } } }""", viewer, ns=ns)
    assert "shop" not in [r["name"] for r in body["data"]["similarDeployments"]["results"]]
    body = await gateway.gql("""query($ns: String!) { similarDeployments(namespace: $ns) { reranker } }""", viewer, ns=ns)
    assert body["errors"][0]["message"] == "give exactly one of deployment and text"


async def test_a_page_of_100_deployments_costs_a_constant_number_of_backend_calls(gateway, kube, backends):
    ns = namespace()
    await team(gateway, ns, provider={**PROVIDER, "quotas": {}})
    for i in range(100):
        name = f"svc-{i:03d}"
        await kube.put_object("deployments", ns, {"kind": "Deployment", "metadata": {"name": name}, "spec": {**SPEC, "policies": []},
                                                   "status": {"phase": "Running", "decision": {"strategy": "vm", "alternatives": [{"strategy": "serverless"}]},
                                                              "cost": {"estimatedMonthly": i}}})
    for i in range(0, 100, 10):
        await backends["rag"].stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record(ns, f"svc-{i:03d}", 1, "flask")))
        await kube.add_event(ns, f"svc-{i:03d}", "Planned", "planned", "2026-11-28T10:00:00Z")
    token = gateway.token("erin", f"{ns}:viewer")
    query = """query($ns: String!) { deployments(namespace: $ns, first: 100) { totalCount edges { node {
        name phase decision { strategy alternatives { strategy } } cost { estimatedMonthly }
        feedback { up down } events { reason } } } } }"""
    before = backend_calls()
    body = await gateway.gql(query, token, ns=ns)
    used = calls_between(before, backend_calls())
    nodes = [e["node"] for e in body["data"]["deployments"]["edges"]]
    assert len(nodes) == 100 and sum(1 for n in nodes if n["feedback"]) == 10 and sum(1 for n in nodes if n["events"]) == 10
    assert used == {("kubernetes", "list deployments"): 1, ("kubernetes", "list events"): 1, ("rag", "ListDeployments"): 1}
    # The same operation with the cost summary and several single lookups adds no list call.
    before = backend_calls()
    body = await gateway.gql("""query($ns: String!) { a: deployment(namespace: $ns, name: "svc-001") { name }
        b: deployment(namespace: $ns, name: "svc-002") { name } deployments(namespace: $ns, first: 100) { totalCount }
        costSummary(namespace: $ns) { deploymentCount } }""", token, ns=ns)
    assert body["data"]["costSummary"]["deploymentCount"] == 100 and body["data"]["b"]["name"] == "svc-002"
    assert calls_between(before, backend_calls()) == {("kubernetes", "list deployments"): 1, ("kubernetes", "list cloudproviders"): 1}


# --- planner -----------------------------------------------------------------------------------

async def test_analyze_and_preview_plan_create_nothing(gateway, kube, tmp_path):
    ns = namespace()
    await team(gateway, ns)
    repo = make_git_repo(tmp_path / "shop", {
        "requirements.txt": "flask==3.0.3\ngunicorn\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/healthz')\ndef h():\n    return 'ok'\n",
    })
    deployer = gateway.token("dave", f"{ns}:deployer")
    body = await gateway.gql("""query($ns: String!, $url: String!) { analyzeRepository(namespace: $ns, repository: {url: $url}) {
        commitSha applications { language framework } } }""", deployer, ns=ns, url=str(repo))
    analysis = body["data"]["analyzeRepository"]
    assert analysis["applications"][0] == {"language": "python", "framework": "flask"} and len(analysis["commitSha"]) == 40
    objects_before = await kube.count()
    preview_query = """query($ns: String!, $spec: DeploymentSpecInput!) { previewPlan(namespace: $ns, spec: $spec, name: "shop") {
        analysis { applications { framework } } cost { monthlyTotal items { name } }
        plan { strategy confidence rejected parameters budget { status } provenance { engine retrievalUsed } }
        composition resources { name apiVersion kind manifest }
        errors { code field message } } }"""
    spec = {**SPEC, "repository": {"url": str(repo)}, "prompt": "Flask API with high availability under $300/month",
            # What each strategy's Composition needs with require_https: a domain; serverless: an image.
            "domainName": "shop.example.com", "image": "123456789012.dkr.ecr.eu-west-3.amazonaws.com/shop:1.0"}
    body = await gateway.gql(preview_query, deployer, ns=ns, spec=spec)
    preview = body["data"]["previewPlan"]
    assert preview["analysis"]["applications"][0]["framework"] == "flask"
    strategy = preview["plan"]["strategy"]
    assert strategy in ("vm", "kubernetes", "serverless") and preview["cost"]["monthlyTotal"] > 0
    assert preview["plan"]["parameters"]["cloud"] == "CLOUD_AWS" and preview["plan"]["parameters"]["region"] == "eu-west-3"
    assert preview["errors"] == []
    # The cloud resources: the Composition the operator's Infrastructure would select, rendered.
    assert preview["composition"] == f"aws-{strategy}-v1"
    resources = preview["resources"]
    names = [r["name"] for r in resources]
    assert len(resources) >= 3 and all(names) and len(set(names)) == len(names)
    for resource in resources:
        manifest = resource["manifest"]
        assert (manifest["apiVersion"], manifest["kind"]) == (resource["apiVersion"], resource["kind"])
        assert resource["apiVersion"].split("/")[0].endswith(".aws.m.upbound.io") and resource["kind"] != "Infrastructure"
        assert manifest["metadata"]["annotations"]["krm.kcl.dev/composition-resource-name"] == resource["name"]
        # Built like the operator's Infrastructure: this team, this Deployment name, its region.
        assert manifest["metadata"]["labels"]["scia.io/team"] == ns and manifest["metadata"]["labels"]["scia.io/deployment"] == "shop"
        assert manifest["spec"]["providerConfigRef"]["name"] == "aws-main"
    assert {r["manifest"]["spec"]["forProvider"].get("region") for r in resources} <= {"eu-west-3", None}
    # HTTPS on VMs without a domain: the Composition itself refuses the parameters, and the preview
    # says so (createDeployment would be accepted, then fail in Crossplane).
    del spec["domainName"]
    spec["strategy"] = "vm"
    preview = (await gateway.gql(preview_query, deployer, ns=ns, spec=spec))["data"]["previewPlan"]
    assert preview["composition"] is None and preview["resources"] == []
    (error,) = preview["errors"]
    assert error["code"] == "VALIDATION" and error["field"] == ["plan", "parameters"]
    assert "needs spec.parameters.domainName" in error["message"]
    assert await kube.count() == objects_before
    viewer = gateway.token("erin", f"{ns}:viewer")
    body = await gateway.gql("""query($ns: String!) { analyzeRepository(namespace: $ns, repository: {url: "https://github.com/x/y"}) { url } }""", viewer, ns=ns)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- subscriptions -----------------------------------------------------------------------------

async def test_a_subscription_sees_the_phases_as_the_operator_reconciles(gateway, kube):
    ns = namespace()
    await team(gateway, ns)
    deployer = gateway.token("dave", f"{ns}:deployer")
    assert (await gateway.gql(CREATE, deployer, ns=ns, name="live", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    assert (await gateway.gql(CREATE, deployer, ns=ns, name="other", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.ws_url, protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {gateway.token('erin', f'{ns}:viewer')}"}})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        await ws.send_json({"id": "s1", "type": "subscribe", "payload": {"query": """subscription($ns: String!) {
            deploymentUpdated(namespace: $ns, name: "live") { type deployment { name phase conditions { type status } events { reason } } } }""",
            "variables": {"ns": ns}}})
        phases, pings = [], 0

        async def receive_until(phase: str) -> None:
            nonlocal pings
            while True:
                message = await ws.receive_json(timeout=10)
                if message["type"] == "ping":
                    pings += 1
                    await ws.send_json({"type": "pong"})
                    continue
                assert message["type"] == "next", message
                deployment = message["payload"]["data"]["deploymentUpdated"]["deployment"]
                assert deployment["name"] == "live"
                if not phases or phases[-1] != deployment["phase"]:
                    phases.append(deployment["phase"])
                if deployment["phase"] == phase:
                    return

        await receive_until("Pending")  # the current state first
        for phase in ("Analyzing", "Planning", "Provisioning", "Running"):
            await kube.patch_status(ns, "other", {"phase": phase})  # not this subscription's
            if phase == "Running":
                await kube.add_event(ns, "live", "Ready", "infrastructure ready", "2026-11-28T10:05:00Z")
                await kube.patch_status(ns, "live", {"phase": phase, "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-11-28T10:05:00Z"}]})
            else:
                await kube.patch_status(ns, "live", {"phase": phase})
            await receive_until(phase)
        assert phases == ["Pending", "Analyzing", "Planning", "Provisioning", "Running"]
        # Each event is resolved with fresh loaders: the event added before Running is there.
        await asyncio.sleep(1.2)  # keep-alive pings (every 0.5 s in these tests)
        await kube.patch_status(ns, "live", {"message": "steady"})
        await receive_until("Running")
        assert pings >= 1
        await ws.send_json({"id": "s1", "type": "complete"})


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def watch_requests(kube, ns: str) -> int:
    """Watch connections the emulator received for the namespace's Deployments."""
    return sum(1 for r in kube.emulator if r.action == kmock.action.WATCH and r.namespace == ns
               and r.resource is not None and r.resource.plural == "deployments")


async def subscribe(session, gateway, token: str, query: str, variables: dict, op: str = "s1"):
    ws = await session.ws_connect(gateway.ws_url, protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    await ws.send_json({"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}})
    return ws


async def next_phase(ws, name: str) -> str:
    while True:
        message = await ws.receive_json(timeout=10)
        if message["type"] == "ping":
            await ws.send_json({"type": "pong"})
            continue
        assert message["type"] == "next", message
        deployment = message["payload"]["data"]["deploymentUpdated"]["deployment"]
        if deployment["name"] == name:
            return deployment["phase"]


async def test_subscribers_of_a_namespace_share_one_watch_that_closes_with_the_last(gateway, kube):
    ns = namespace()
    await team(gateway, ns)
    deployer = gateway.token("dave", f"{ns}:deployer")
    assert (await gateway.gql(CREATE, deployer, ns=ns, name="live", spec=SPEC))["data"]["createDeployment"]["errors"] == []
    by_name = """subscription($ns: String!) { deploymentUpdated(namespace: $ns, name: "live") { type deployment { name phase } } }"""
    whole = """subscription($ns: String!) { deploymentUpdated(namespace: $ns) { type deployment { name phase } } }"""
    watches_before, watches_elsewhere = gauge("scia_gateway_shared_watches"), watch_requests(kube, ns)
    assert watches_elsewhere == 0
    async with aiohttp.ClientSession() as session:
        # Four subscribers, different users and selections, on their own connections.
        sockets = [
            await subscribe(session, gateway, gateway.token(user, f"{ns}:viewer"), query, {"ns": ns})
            for user, query in (("erin", by_name), ("frank", by_name), ("grace", whole), ("heidi", whole))
        ]
        seen = [[await next_phase(ws, "live")] for ws in sockets]  # the current state first
        assert watch_requests(kube, ns) == 1 and gauge("scia_gateway_shared_watches") == watches_before + 1
        for phase in ("Analyzing", "Planning", "Provisioning", "Running"):
            await kube.patch_status(ns, "live", {"phase": phase})
            for ws, phases in zip(sockets, seen):
                phases.append(await next_phase(ws, "live"))
        assert seen == [["Pending", "Analyzing", "Planning", "Provisioning", "Running"]] * 4
        assert watch_requests(kube, ns) == 1
        # One leaves: the others keep the watch, and still get events.
        await sockets[0].send_json({"id": "s1", "type": "complete"})
        await sockets[0].close()
        await kube.patch_status(ns, "live", {"phase": "Failed"})
        assert [await next_phase(ws, "live") for ws in sockets[1:]] == ["Failed"] * 3
        assert gauge("scia_gateway_shared_watches") == watches_before + 1
        # The last ones leave (one completes, the others just disconnect): the watch is closed.
        await sockets[1].send_json({"id": "s1", "type": "complete"})
        for ws in sockets[1:]:
            await ws.close()
        for _ in range(100):
            if gauge("scia_gateway_shared_watches") == watches_before:
                break
            await asyncio.sleep(0.05)
        assert gauge("scia_gateway_shared_watches") == watches_before
        # A new subscriber opens a new watch (the old one is gone, not reused) and gets the current state.
        ws = await subscribe(session, gateway, gateway.token("ivan", f"{ns}:viewer"), by_name, {"ns": ns})
        assert await next_phase(ws, "live") == "Failed"
        assert watch_requests(kube, ns) == 2
        await ws.close()


async def test_a_slow_subscriber_is_disconnected_without_holding_up_the_others(kube):
    ns = namespace()
    await kube.put_object("deployments", ns, {"kind": "Deployment", "metadata": {"name": "live"}, "spec": SPEC})
    client = KubeClient(kube.url)
    hub = WatchHub(client, queue_size=2)
    identity = Identity("erin", (f"{ns}:viewer",))
    subscribers_before = gauge("scia_gateway_subscribers")
    try:
        fast, slow = hub.subscribe(ns, "live", identity), hub.subscribe(ns, None, identity)
        assert (await anext(fast))[1]["metadata"]["name"] == "live" and (await anext(slow))[0] == "ADDED"
        phases = ["Analyzing", "Planning", "Provisioning", "Running"]
        for phase in phases:
            await kube.patch_status(ns, "live", {"phase": phase})
            kind, obj = await asyncio.wait_for(anext(fast), 5)
            assert (kind, obj["status"]["phase"]) == ("MODIFIED", phase)
        # The slow one read nothing since: two events fitted its queue, the third closed it.
        with pytest.raises(SlowSubscriber, match="fell more than 2 events behind and was closed; subscribe again"):
            await anext(slow)
        assert len(hub.watches[ns].subscribers) == 1
        assert gauge("scia_gateway_subscribers") == subscribers_before + 1
        await fast.aclose()
        assert ns not in hub.watches  # the last subscriber left: the watch stopped
        assert gauge("scia_gateway_subscribers") == subscribers_before
    finally:
        await hub.close()
        await client.close()


async def test_the_shared_watch_lists_again_after_410_gone_and_sends_what_it_missed(kube):
    ns = namespace()
    await kube.put_object("deployments", ns, {"kind": "Deployment", "metadata": {"name": "live"}, "spec": SPEC})

    async def missed_change():
        # While this watch connection is up, the object changes but the connection delivers
        # nothing of it and then expires: only a new list can reveal the change.
        await kube.patch_status(ns, "live", {"phase": "Planning"})

    expired = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                                           "reason": "Expired", "message": "too old resource version: 1 (42)"}}
    kube.emulator[kmock.action.WATCH, kmock.namespace(ns)][:1] << (missed_change, expired)
    client = KubeClient(kube.url)
    hub = WatchHub(client)
    try:
        events = hub.subscribe(ns, "live", Identity("erin", ()))
        kind, obj = await asyncio.wait_for(anext(events), 5)
        assert kind == "ADDED" and obj.get("status", {}).get("phase") is None
        kind, obj = await asyncio.wait_for(anext(events), 5)
        assert (kind, obj["status"]["phase"]) == ("MODIFIED", "Planning")
        # Then it follows the real watch again.
        await kube.patch_status(ns, "live", {"phase": "Running"})
        kind, obj = await asyncio.wait_for(anext(events), 5)
        assert (kind, obj["status"]["phase"]) == ("MODIFIED", "Running")
        assert watch_requests(kube, ns) == 2  # the expired one, and the one after the new list
        await events.aclose()
    finally:
        await hub.close()
        await client.close()


async def test_with_impersonation_the_api_server_checks_each_subscriber_of_the_shared_watch(kube, backends):
    from tests.gateway.conftest import Gateway, gateway_settings, running_gateway

    ns = namespace()
    await kube.put_object("deployments", ns, {"kind": "Deployment", "metadata": {"name": "live"}, "spec": SPEC})
    # The API server's RBAC (here: the emulator told so) lets erin list the namespace, not mallory,
    # although the gateway's own check lets both read it.
    refusal = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
               "message": f'deployments.scia.io is forbidden: User "mallory" cannot list resource "deployments" in the namespace "{ns}"'}
    kube.emulator[kmock.action.LIST, kmock.namespace(ns), kmock.headers({"Impersonate-User": "mallory"})] << 403 << refusal
    settings = gateway_settings(kube.url, backends["rag"].target, backends["planner"].target, impersonate=True)
    query = """subscription($ns: String!) { deploymentUpdated(namespace: $ns, name: "live") { deployment { name phase } } }"""
    async with running_gateway(settings) as url, aiohttp.ClientSession() as session:
        gateway = Gateway(url, settings, session)
        erin = await subscribe(session, gateway, gateway.token("erin", f"{ns}:viewer"), query, {"ns": ns})
        assert await next_phase(erin, "live") == "Pending"
        checks = [r for r in kube.emulator if r.action == kmock.action.LIST and r.namespace == ns and r.params.get("limit") == "1"]
        assert [r.headers.get("Impersonate-User") for r in checks] == ["erin"]
        mallory = await subscribe(session, gateway, gateway.token("mallory", f"{ns}:viewer"), query, {"ns": ns})
        message = await mallory.receive_json(timeout=10)
        assert message["type"] == "next" and message["payload"].get("data") is None, message
        errors = message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN", message
        assert 'User "mallory" cannot list' in errors[0]["message"], message
        # Erin's stream is unaffected, and the watch itself is still the one shared watch.
        await kube.patch_status(ns, "live", {"phase": "Planning"})
        assert await next_phase(erin, "live") == "Planning"
        assert watch_requests(kube, ns) == 1
        await erin.close()
        await mallory.close()


async def test_websocket_connection_init_needs_a_valid_token(gateway):
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.ws_url, protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4403
        assert "malformed token" in message.extra


# --- abuse ---------------------------------------------------------------------------------------

async def test_abusive_queries_are_refused_with_clear_errors(gateway):
    token = gateway.token("mallory", "team-z:viewer")
    deep = "{ deployments(namespace: \"team-z\") { edges { node { decision { alternatives { strategy } } } } } }"
    fragments = """query Deep { deployments(namespace: "team-z") { ...A } }
        fragment A on DeploymentConnection { edges { node { ...B } } }
        fragment B on Deployment { decision { ...C } }
        fragment C on Decision { alternatives { ...D } }
        fragment D on Alternative { strategy }"""
    assert "errors" not in await gateway.gql(deep, token)  # 6 levels: within the limit of 10
    status, body = await gateway.post({"query": fragments}, token)  # the same through fragments
    assert status == 200 and "errors" not in body
    # Aliases, counted after fragment expansion: 4 spreads x 10 aliases = 40 > 30.
    aliases = "fragment F on Query { " + " ".join(f"a{i}: me {{ user }}" for i in range(10)) + " } query { ...F ...F ...F ...F }"
    status, body = await gateway.post({"query": aliases}, token)
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert "uses 40 aliases (fragments expanded); the limit is 30" in body["errors"][0]["message"]
    # Cost: first multiplies what is selected in the list.
    page = '{ deployments(namespace: "team-z", first: 100) { edges { node { name events { reason } feedback { up } pastRevisions { id } } } } }'
    assert "errors" not in await gateway.gql(page, token)  # a full page with everything is affordable
    costly = "{ " + " ".join(f'a{i}: similarDeployments(namespace: "team-z", text: "x", limit: 50) {{ results {{ id }} }}' for i in range(25)) + " }"
    status, body = await gateway.post({"query": costly}, token)
    assert status == 400 and "The query exceeds the maximum cost of 5000" in body["errors"][0]["message"], body
    # Batches: JSON arrays up to 5 operations.
    status, body = await gateway.post([{"query": "{ me { user } }"}] * 2, token)
    assert status == 200 and [r["data"]["me"]["user"] for r in body] == ["mallory", "mallory"]
    status, body = await gateway.post([{"query": "{ me { user } }"}] * 6, token)
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"
    many_operations = " ".join(f"query Q{i} {{ me {{ user }} }}" for i in range(6))
    status, body = await gateway.post({"query": many_operations, "operationName": "Q1"}, token)
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
    # Body size.
    status, body = await gateway.post(None, token, raw=json.dumps({"query": "{ me { user } }", "x": "y" * 70_000}).encode())
    assert status == 413 and body["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    # Introspection is off in production mode.
    status, body = await gateway.post({"query": "{ __schema { types { name } } }"}, token)
    assert status == 400 and "introspection" in body["errors"][0]["message"].lower()


async def test_depth_limit_and_persisted_query_safelist_on_a_locked_down_gateway(gateway, kube, backends, tmp_path):
    from scia.gateway.limits import query_hash

    from tests.gateway.conftest import gateway_settings, running_gateway
    deep = """query Deep { deployments(namespace: "team-z") { ...A } }
        fragment A on DeploymentConnection { edges { node { ...B } } }
        fragment B on Deployment { decision { ...C } }
        fragment C on Decision { alternatives { strategy } }"""
    me = "{ me { user } }"
    safelist = tmp_path / "safelist.json"
    safelist.write_text(json.dumps({query_hash(q): q for q in (deep, me)}))
    settings = gateway_settings(kube.url, backends["rag"].target, backends["planner"].target, max_depth=5,
                                persisted_queries_path=safelist, persisted_queries_only=True, public_host="scia.example.com")
    token = gateway.token("m", "team-z:viewer")
    async with running_gateway(settings) as url, aiohttp.ClientSession() as session:
        async def post(payload):
            async with session.post(url + "/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}) as r:
                return r.status, await r.json()

        status, body = await post({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(me)}}})
        assert status == 200 and body == {"data": {"me": {"user": "m"}}}
        status, body = await post({"query": "{ me { groups } }"})
        assert status == 400 and body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        # Safelisted, yet still held to the depth limit (counted through the fragments).
        status, body = await post({"query": deep})
        assert status == 400 and body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
        assert body["errors"][0]["message"] == "Operation Deep is 6 levels deep (fragments expanded); the limit is 5."
        async with session.get(url + "/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}
        async with session.get(url + "/metrics") as r:
            metrics = await r.text()
        assert 'scia_gateway_refusals_total{reason="PERSISTED_QUERY_REQUIRED"}' in metrics
        assert "scia_gateway_backend_calls_total" in metrics
        # Through the Ingress (addressed to the public host) the metrics are not published.
        async with session.get(url + "/metrics", headers={"Host": "SCIA.example.com"}) as r:
            assert r.status == 404
        async with session.get(url + "/healthz", headers={"Host": "scia.example.com"}) as r:
            assert r.status == 200
