"""The gateway's pure logic, tested directly: authorization, token verification (HS256 and a real
JWKS server for RS256), CRD validation, filters, pagination, cost aggregation, query shape limits
and persisted queries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import parse
from scia.gateway import policy, validation
from scia.gateway.auth import AuthError, Forbidden, Principal, TokenVerifier, allowed, issue_token, require, roles_from_groups
from scia.gateway.limits import PersistedQueryError, load_safelist, measure_operations, query_hash, resolve_persisted_query

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 40


# --- authorization -----------------------------------------------------------------------------

def test_roles_come_from_groups_and_bindings_and_the_highest_wins():
    roles = roles_from_groups(
        ["team-a:viewer", "team-a:deployer", "oidc-platform", "engineering", "team-b:owner", ":admin"],
        {"oidc-platform": "team-c:admin"},
    )
    assert roles == {"team-a": "deployer", "team-c": "admin"}


@pytest.mark.parametrize(("role", "read", "feedback", "preview", "deploy", "provider"), [
    ("viewer", True, True, False, False, False),
    ("deployer", True, True, True, True, False),
    ("admin", True, True, True, True, True),
])
def test_what_each_role_may_do(role, read, feedback, preview, deploy, provider):
    p = Principal("u", (), {"team-a": role})
    assert [allowed(p, a, "team-a") for a in ("read", "feedback", "preview", "write_deployment", "write_cloudprovider")] == [
        read, feedback, preview, deploy, provider]
    assert not any(allowed(p, a, "team-b") for a in ("read", "feedback", "preview", "write_deployment", "write_cloudprovider"))


def test_a_wildcard_binding_applies_everywhere_and_refusals_explain_themselves():
    platform = Principal("ops", (), {"*": "viewer", "team-a": "admin"})
    assert platform.role_in("team-z") == "viewer" and platform.role_in("team-a") == "admin"
    with pytest.raises(Forbidden, match="write deployment in namespace 'team-z' needs the deployer role; your role there is viewer"):
        require(platform, "write_deployment", "team-z")


async def test_hs256_tokens_are_verified_and_weak_algorithms_refused():
    verifier = TokenVerifier(shared_key=KEY, audience="scia")
    principal = await verifier.verify(issue_token(KEY, "demo", ["team-demo:admin"], ttl_seconds=60))
    assert principal.user == "demo" and principal.roles == {"team-demo": "admin"}
    unsigned = jwt.encode({"sub": "x", "exp": time.time() + 60, "aud": "scia"}, None, algorithm="none")
    with pytest.raises(AuthError, match="'none' are not accepted"):
        await verifier.verify(unsigned)
    with pytest.raises(AuthError, match="Audience doesn't match|Invalid audience"):
        await verifier.verify(issue_token(KEY, "demo", [], ttl_seconds=60, audience="other"))
    no_exp = jwt.encode({"sub": "x", "aud": "scia"}, KEY, algorithm="HS256")
    with pytest.raises(AuthError, match="exp"):
        await verifier.verify(no_exp)


async def test_tokens_claiming_reserved_kubernetes_identities_are_refused():
    """The gateway impersonates the token's groups: system:masters would be cluster-admin."""
    verifier = TokenVerifier(shared_key=KEY, audience="scia")
    with pytest.raises(AuthError, match=r"reserved Kubernetes groups \['system:masters'\]"):
        await verifier.verify(issue_token(KEY, "mallory", ["team-a:viewer", "system:masters"], ttl_seconds=60))
    with pytest.raises(AuthError, match="reserved Kubernetes name"):
        await verifier.verify(issue_token(KEY, "system:serviceaccount:kube-system:default", [], ttl_seconds=60))


async def test_rs256_tokens_are_verified_against_the_issuers_jwks_over_http():
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
    fetches = []

    async def jwks(_request):
        fetches.append(1)
        return web.json_response({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})

    app = web.Application()
    app.router.add_get("/jwks", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        verifier = TokenVerifier(jwks_url=f"http://127.0.0.1:{port}/jwks", issuer="https://idp.example", audience="scia")
        claims = {"sub": "ann", "groups": ["team-a:deployer"], "iss": "https://idp.example", "aud": "scia", "exp": time.time() + 60}
        token = jwt.encode(claims, signing, algorithm="RS256", headers={"kid": "key-1"})
        principal = await verifier.verify(token)
        assert principal.user == "ann" and principal.roles == {"team-a": "deployer"}
        await verifier.verify(token)
        assert len(fetches) == 1  # cached
        forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "key-1"})
        with pytest.raises(AuthError, match="Signature verification failed"):
            await verifier.verify(forged)
        with pytest.raises(AuthError, match="unknown key id 'key-2'"):
            await verifier.verify(jwt.encode(claims, signing, algorithm="RS256", headers={"kid": "key-2"}))
        wrong_issuer = jwt.encode({**claims, "iss": "https://evil"}, signing, algorithm="RS256", headers={"kid": "key-1"})
        with pytest.raises(AuthError, match="issuer"):
            await verifier.verify(wrong_issuer)
        # An HS256 token is refused when only OIDC is configured (no algorithm confusion).
        with pytest.raises(AuthError, match="'HS256' are not accepted"):
            await verifier.verify(issue_token(KEY, "x", [], ttl_seconds=60))
    finally:
        await runner.cleanup()


# --- CRD validation ------------------------------------------------------------------------------

def test_the_packaged_crds_are_the_repositorys():
    for kind, filename in validation.CRD_FILES.items():
        assert validation.crd_text(kind) == (ROOT / "crds" / filename).read_text(), (
            f"services/gateway/src/scia/gateway/crds/{filename} is stale: copy crds/{filename} over it")


def deployment(**spec) -> dict:
    base = {"repository": {"url": "git@github.com:acme/shop.git"}, "cloudProvider": "aws-main"}
    return {"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": "shop"}, "spec": {**base, **spec}}


def test_a_valid_deployment_gets_the_crd_defaults():
    obj = deployment(budget={"maxMonthlyCost": 100})
    assert validation.validate("Deployment", obj) == []
    assert obj["spec"]["strategy"] == "auto" and obj["spec"]["paused"] is False
    assert obj["spec"]["budget"] == {"maxMonthlyCost": 100, "alertThreshold": 0.8, "enforcementMode": "soft"}


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({"repository": {"url": "http://insecure.example/x"}}, ["spec", "repository", "url"], "https:// or ssh"),
    ({"repository": {}}, ["spec", "repository", "url"], "url is required"),
    ({"cloudProvider": "Not_A_Label"}, ["spec", "cloudProvider"], "is not valid"),
    ({"budget": {"alertThreshold": 0}}, ["spec", "budget", "alertThreshold"], "less than or equal to the minimum"),
    ({"policies": ["require-https", "require-https"]}, ["spec", "policies"], "duplicate entry"),
    ({"policies": ["fast"]}, ["spec", "policies", "0"], "'fast' is not one of require-https"),
    ({"strategy": "mainframe"}, ["spec", "strategy"], "not one of auto, vm, kubernetes, serverless"),
    ({"rollbackTo": 0}, ["spec", "rollbackTo"], "less than the minimum of 1"),
    ({"prompt": "x" * 4001}, ["spec", "prompt"], "is too long"),
])
def test_invalid_deployments_are_refused_with_the_field(spec, field, message):
    errors = validation.validate("Deployment", deployment(**spec))
    assert [e.field for e in errors] == [field], errors
    assert message in errors[0].message


def test_cloud_provider_cel_rules():
    spec = {"type": "aws", "credentialsSecretRef": {"name": "c"}, "defaultRegion": "us-east-1", "allowedRegions": ["eu-west-3"]}
    obj = {"apiVersion": "scia.io/v1alpha1", "kind": "CloudProvider", "metadata": {"name": "p"}, "spec": spec}
    assert [e.message for e in validation.validate("CloudProvider", obj)] == ["defaultRegion must be one of allowedRegions"]
    ok = {**obj, "spec": {**spec, "allowedRegions": []}}
    assert validation.validate("CloudProvider", ok) == [] and ok["spec"]["credentialsSecretRef"]["key"] == "credentials"
    changed = {**ok, "spec": {**ok["spec"], "type": "gcp"}}
    assert [e.field for e in validation.validate("CloudProvider", changed, old=ok)] == [["spec", "type"]]


# --- filters, pagination, cost, provider checks --------------------------------------------------

def obj(name, phase=None, strategy=None, cost=None, provider="aws-main", labels=None, verdict=None):
    status = {}
    if phase:
        status["phase"] = phase
    if strategy:
        status["decision"] = {"strategy": strategy}
    if cost is not None:
        status["cost"] = {"estimatedMonthly": cost, "actualThisMonth": cost / 4, **({"budgetVerdict": verdict} if verdict else {})}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"cloudProvider": provider}, "status": status}


def test_filters_combine_criteria():
    items = [obj("a", "Running", "vm", 50, labels={"tier": "web"}), obj("b", "Failed", "serverless", 5), obj("c")]
    def names(flt):
        return [policy.name_of(o) for o in items if policy.matches(o, flt)]
    assert names(None) == ["a", "b", "c"]
    assert names({"phases": ["Pending"]}) == ["c"]  # no status yet means Pending
    assert names({"strategies": ["auto"]}) == ["c"]  # undecided: the spec's strategy
    assert names({"labels": {"tier": "web"}, "maxMonthlyCost": 60}) == ["a"]
    assert names({"maxMonthlyCost": 10}) == ["b"]  # unknown cost never matches a cost bound
    assert names({"nameContains": "B"}) == ["b"]


def test_pagination_is_stable_by_name():
    items = [obj(n) for n in ("d", "b", "a", "c")]
    first = policy.paginate(items, 2, None)
    assert [e["node"]["metadata"]["name"] for e in first["edges"]] == ["a", "b"] and first["pageInfo"]["hasNextPage"]
    rest = policy.paginate([*items, obj("aa")], 2, first["pageInfo"]["endCursor"])  # "aa" appeared: no duplicates
    assert [e["node"]["metadata"]["name"] for e in rest["edges"]] == ["c", "d"] and not rest["pageInfo"]["hasNextPage"]
    with pytest.raises(ValueError, match="not a cursor"):
        policy.paginate(items, 2, "bm9wZQ==")


def test_cost_summary_aggregates_against_budgets():
    summary = policy.cost_summary("t", [obj("a", strategy="vm", cost=100, verdict="Over"), obj("b", strategy="vm", cost=50.555), obj("c")],
                                  [{"spec": {"costControl": {"monthlyBudget": 200}}}, {"spec": {}}])
    assert summary["estimatedMonthly"] == 150.56 and summary["actualThisMonth"] == 37.64
    assert summary["monthlyBudget"] == 200 and summary["budgetUsed"] == 0.7528 and summary["overBudgetDeployments"] == 1
    assert summary["byStrategy"] == [{"key": "undecided", "estimatedMonthly": 0.0}, {"key": "vm", "estimatedMonthly": 150.56}]
    assert policy.cost_summary("t", [], [])["monthlyBudget"] is None


def test_checks_against_the_cloud_provider():
    provider = {"spec": {"allowedRegions": ["eu-west-3"], "costControl": {"monthlyBudget": 100}, "quotas": {"maxDeployments": 2}}}
    spec = {"cloudProvider": "aws-main", "region": "eu-west-3", "budget": {"maxMonthlyCost": 50}}
    assert policy.check_against_provider("x", spec, provider, [obj("y")]) == []
    codes = [e.code for e in policy.check_against_provider("x", {**spec, "region": "us-east-1", "budget": {"maxMonthlyCost": 150}},
                                                            provider, [obj("y"), obj("z")])]
    assert codes == ["VALIDATION", "BUDGET", "QUOTA"]
    # Updating one of the existing deployments does not count it twice.
    assert policy.check_against_provider("y", spec, provider, [obj("y"), obj("z")]) == []
    assert policy.check_against_provider("x", spec, None, [])[0].code == "NOT_FOUND"
    assert [e.code for e in policy.check_against_provider("x", spec, {"spec": {"quotas": {"maxDeployments": 0}}}, [])] == ["QUOTA"]


# --- query shape and persisted queries -----------------------------------------------------------

def test_depth_and_aliases_are_measured_with_fragments_expanded():
    document = parse("""
        query Q { a: me { ...U } b: me { ...U } deployments(namespace: "x") { edges { node { ...D } } } }
        fragment U on Viewer { u1: user u2: user tenants { namespace } }
        fragment D on Deployment { decision { alternatives { strategy } } }""")
    assert measure_operations(document)["Q"].depth == 6 and measure_operations(document)["Q"].aliases == 6


def test_exponential_fragment_fan_out_is_measured_without_expanding_it():
    levels = 30  # 2**30 expanded fields: measuring must not expand them
    text = "query Q { ...F0 }\n" + "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    text += f"\nfragment F{levels} on Query {{ x: me {{ user }} }}"
    started = time.perf_counter()
    measure = measure_operations(parse(text))["Q"]
    assert measure.aliases == 2**levels and measure.depth == 2
    assert time.perf_counter() - started < 0.5


def test_fragment_cycles_do_not_hang_the_measure():
    document = parse("query Q { ...A } fragment A on Query { me { user } ...B } fragment B on Query { ...A }")
    assert measure_operations(document)["Q"].depth == 2


def test_persisted_queries(tmp_path):
    query = "{ me { user } }"
    path = tmp_path / "safelist.json"
    path.write_text(json.dumps({query_hash(query): query}))
    safelist = load_safelist(path)
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(query)}}}
    assert resolve_persisted_query(by_hash, safelist, True)["query"] == query
    assert resolve_persisted_query({"query": query}, safelist, True)["query"] == query
    with pytest.raises(PersistedQueryError, match="Only persisted queries are accepted"):
        resolve_persisted_query({"query": "{ me { groups } }"}, safelist, True)
    assert resolve_persisted_query({"query": "{ me { groups } }"}, safelist, False)["query"] == "{ me { groups } }"
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        resolve_persisted_query({"extensions": {"persistedQuery": {"sha256Hash": "0" * 64}}}, safelist, False)
    with pytest.raises(PersistedQueryError, match="not the sha256 of the query"):
        resolve_persisted_query({"query": "{ x }", **by_hash}, safelist, False)
    path.write_text(json.dumps({"0" * 64: query}))
    with pytest.raises(ValueError, match="not the sha256 of its query"):
        load_safelist(path)


def test_the_token_command_prints_a_token_the_gateway_accepts():
    env = {**os.environ, "SCIA_GATEWAY_JWT_SHARED_KEY": KEY}
    done = subprocess.run([sys.executable, "-m", "scia.gateway", "token", "--user", "demo", "--group", "team-demo:admin"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    claims = jwt.decode(done.stdout.strip(), KEY, algorithms=["HS256"], audience="scia")
    assert claims["sub"] == "demo" and claims["groups"] == ["team-demo:admin"] and claims["exp"] > time.time() + 3600
    env.pop("SCIA_GATEWAY_JWT_SHARED_KEY")
    failed = subprocess.run([sys.executable, "-m", "scia.gateway", "token", "--user", "demo"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert failed.returncode != 0 and "SCIA_GATEWAY_JWT_SHARED_KEY" in failed.stderr


def test_kubernetes_calls_impersonate_the_caller_only_when_asked(tmp_path):
    from scia.gateway.kube import Identity, KubeClient

    token = tmp_path / "token"
    token.write_text("sa-token\n")
    identity = Identity("ann", ("team-a:deployer", "engineering"))
    headers = KubeClient("https://k8s:6443", token_path=token, impersonate=True)._headers(identity)
    assert headers["Authorization"] == "Bearer sa-token" and headers["Impersonate-User"] == "ann"
    assert headers.getall("Impersonate-Group") == ["team-a:deployer", "engineering"]
    plain = KubeClient("http://127.0.0.1:1", impersonate=False)._headers(identity)
    assert "Impersonate-User" not in plain and "Authorization" not in plain


# --- shared watches ------------------------------------------------------------------------------

def test_a_new_list_after_410_becomes_the_events_the_watch_missed():
    from scia.gateway.watches import changes

    def obj(name, phase, rv):
        return {"metadata": {"name": name, "namespace": "t", "resourceVersion": rv}, "status": {"phase": phase}}

    store = {"a": obj("a", "Running", "1"), "b": obj("b", "Planning", "2"), "gone": obj("gone", "Running", "3")}
    fresh = [obj("a", "Running", "1"), obj("b", "Running", "7"), obj("new", "Pending", "8")]
    assert changes(store, fresh) == [("MODIFIED", fresh[1]), ("ADDED", fresh[2]), ("DELETED", store["gone"])]
    assert changes(store, list(store.values())) == []


# --- document cache ------------------------------------------------------------------------------

def test_cached_documents_keep_the_cost_rule_per_request_and_the_static_verdicts():
    from ariadne.graphql import validate_query
    from scia.gateway.limits import DocumentCache, validation_rules
    from scia.gateway.resolvers import build_schema

    schema = build_schema()
    cache = DocumentCache(size=2)
    rules = validation_rules(max_depth=10, max_aliases=30, max_operations=5, max_cost=100, skip_introspection=False)
    query = "query($ns: String!, $first: Int!) { deployments(namespace: $ns, first: $first) { edges { node { name events { reason } } } } }"

    def check(text: str, variables: dict) -> list[str]:
        data = {"query": text, "variables": variables}
        document = cache.parse(None, data)
        return [e.message for e in validate_query(schema, document, rules(None, document, data), query_validator=cache.validate)]

    assert check(query, {"ns": "t", "first": 10}) == []
    assert cache.parse(None, {"query": query}) is cache.parse(None, {"query": query})  # parsed once
    # Same text, other variables: the cost rule runs again and refuses the bigger page.
    (refusal,) = check(query, {"ns": "t", "first": 100})
    assert refusal == "The query exceeds the maximum cost of 100. Actual cost is 404"
    assert check(query, {"ns": "t", "first": 10}) == []
    # A static error is remembered with its document, and is the same verdict every time.
    bad = "{ deployments(namespace: \"t\") { edges { node { nope } } } }"
    assert check(bad, {}) == check(bad, {}) == ["Cannot query field 'nope' on type 'Deployment'. Did you mean 'name'?"]
    assert cache._verdicts[id(cache.parse(None, {"query": bad}))][0].message.startswith("Cannot query field 'nope'")
    # Bounded: the oldest text is evicted with its verdict.
    check("{ me { user } }", {})
    assert query not in cache._documents and len(cache._documents) == 2
