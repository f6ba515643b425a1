"""Prompt understanding on a varied set of phrasings."""

from __future__ import annotations

import pytest

from scia.planner.intent import derived_rps, resolve_location, understand
from scia.v1 import common_pb2

S, C = common_pb2.Strategy, common_pb2.Cloud

# prompt -> the values that must be understood (others must stay at their defaults where listed).
CASES: list[tuple[str, dict]] = [
    ("deploy this Flask app with high availability, under $300/month in eu-west-3", {"ha": True, "budget": 300, "region": "eu-west-3", "cloud": C.CLOUD_AWS}),
    ("Django site, 10k users, budget 300 USD per month, Paris", {"users": 10_000, "budget": 300, "location": "paris", "ha": False}),
    ("FastAPI on kubernetes with autoscaling, 200 rps, p99 under 150 ms", {"strategy": S.STRATEGY_KUBERNETES, "autoscaling": True, "rps": 200, "latency": 150}),
    ("serverless please, about 1M requests/month, €200 max", {"strategy": S.STRATEGY_SERVERLESS, "budget": 216, "rps": pytest.approx(1.142, rel=0.01)}),
    ("Run it on a VM in Frankfurt on GCP, 2 GB of RAM", {"strategy": S.STRATEGY_VM, "cloud": C.CLOUD_GCP, "location": "frankfurt", "memory": 2048}),
    ("use t3.large, 3 instances, no kubernetes", {"instance": "t3.large", "count": 3, "excluded": {S.STRATEGY_KUBERNETES}, "cloud": C.CLOUD_AWS}),
    ("3 nodes on EKS in us-east-1, hard budget of $1,200 a month", {"count": 3, "strategy": S.STRATEGY_KUBERNETES, "region": "us-east-1", "budget": 1200, "hard": True, "rps": 0}),
    ("we don't need high availability, cheap as possible, £50/month", {"ha": False, "budget": 63.5}),
    ("500 requests per minute, westeurope", {"rps": 25, "region": "westeurope", "cloud": C.CLOUD_AZURE}),
    ("Deploy on Azure in Tokyo with Standard_B2s", {"cloud": C.CLOUD_AZURE, "location": "tokyo", "instance": "Standard_B2s"}),
    ("e2-standard-4 in europe-west1 with 5k concurrent users", {"instance": "e2-standard-4", "region": "europe-west1", "cloud": C.CLOUD_GCP, "users": 5000, "rps": 100}),
    ("latency should be below 1 s, 2 million page views a day", {"latency": 1000, "rps": pytest.approx(69.44, rel=0.01)}),
    ("It must be highly available and fault tolerant", {"ha": True}),
    ("multi-AZ postgres-backed API, 50 req/s", {"ha": True, "rps": 50}),
    ("An internal tool for 20 people, downtime is fine", {"users": 20, "ha": False}),
    ("handle traffic spikes on Black Friday, 99.95% uptime", {"autoscaling": True, "ha": True}),
    ("Lambda functions behind API gateway, 512 MB memory", {"strategy": S.STRATEGY_SERVERLESS, "cloud": C.CLOUD_AWS, "memory": 512}),
    ("on k8s please, two replicas", {"strategy": S.STRATEGY_KUBERNETES, "count": 2}),
    ("Put it on GKE in Singapore", {"strategy": S.STRATEGY_KUBERNETES, "cloud": C.CLOUD_GCP, "location": "singapore"}),
    ("AKS cluster in francecentral, 4 nodes, scale automatically", {"strategy": S.STRATEGY_KUBERNETES, "cloud": C.CLOUD_AZURE, "region": "francecentral", "count": 4, "autoscaling": True}),
    ("a single server is enough, budget is 40 dollars a month", {"strategy": S.STRATEGY_VM, "budget": 40, "count": 1}),
    ("not serverless, we hold websocket connections", {"excluded": {S.STRATEGY_SERVERLESS}, "strategy": S.STRATEGY_UNSPECIFIED}),
    ("expected load 1,500 requests per second at peak", {"rps": 1500}),
    ("around 300k requests per day from the UK", {"rps": pytest.approx(10.42, rel=0.01), "location": "uk"}),
    ("Cloud Run in us-central1 with scale to zero", {"strategy": S.STRATEGY_SERVERLESS, "region": "us-central1", "cloud": C.CLOUD_GCP, "autoscaling": True}),
    ("spend at most 1.5k USD per month, strictly", {"budget": 1500, "hard": True}),
    ("Budget: 2400 per year", {"budget": 200}),
    ("m5.xlarge with 16GB RAM in Ireland", {"instance": "m5.xlarge", "memory": 16384, "location": "ireland", "cloud": C.CLOUD_AWS}),
    ("50k DAU mobile backend, sub-100ms responses", {"users": 50_000, "latency": 100}),
    ("no HA needed, single instance, EC2 in Oregon", {"ha": False, "count": 1, "strategy": S.STRATEGY_VM, "location": "oregon", "cloud": C.CLOUD_AWS}),
    ("deploy to São Paulo on AWS", {"location": "são paulo", "cloud": C.CLOUD_AWS}),
    ("A blog. Nothing special.", {"rps": 0, "users": 0, "ha": False, "autoscaling": False, "budget": 0, "strategy": S.STRATEGY_UNSPECIFIED, "cloud": C.CLOUD_UNSPECIFIED}),
    ("Use 3 worker nodes with 8 GiB memory each on EKS", {"count": 3, "memory": 8192, "strategy": S.STRATEGY_KUBERNETES}),
    ("p95 latency 200ms, zero downtime deploys, 120 qps", {"latency": 200, "ha": True, "rps": 120}),
    # "Steady traffic" describes the load (no autoscaling) unless autoscaling is asked in so many words.
    ("4000 users and steady traffic. Scale out automatically under load.", {"users": 4000, "autoscaling": True}),
    ("1000 users and steady traffic, peaks at lunch", {"users": 1000, "autoscaling": False}),
    ("steady load, no autoscaling please, it should not autoscale", {"autoscaling": False}),
    # Traffic in words, no number: an order of magnitude of users.
    ("an internal dashboard for a handful of internal users", {"users": 20, "rps": 0}),
    ("expect a few thousand users", {"users": 3000}),
    ("moderate load on weekdays", {"users": 3000}),
    ("a large audience at launch", {"users": 30_000}),
    ("tens of thousands of users", {"users": 30_000}),
    ("heavy traffic, 600 requests per second", {"rps": 600, "users": 0}),
    ("about 300 users a day", {"users": 300}),
]


@pytest.mark.parametrize(("prompt", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_prompt_understanding(prompt, expected):
    u = understand(prompt)
    r = u.requirements
    got = {
        "ha": r.high_availability, "autoscaling": r.autoscaling, "rps": r.expected_rps, "users": r.expected_users,
        "latency": r.latency_p99_ms, "instance": r.instance_type, "count": r.node_count, "memory": r.memory_mb,
        "budget": u.budget_usd, "hard": u.hard_budget, "region": u.region, "location": u.location, "cloud": u.cloud,
        "strategy": u.strategy, "excluded": u.excluded_strategies,
    }
    for key, value in expected.items():
        assert got[key] == value, f"{key}: got {got[key]!r}, expected {value!r} for {prompt!r}"


def test_every_extracted_value_has_evidence_quoting_the_prompt():
    u = understand("FastAPI on kubernetes with autoscaling, 200 rps, under $500/month in Paris, use t3.medium")
    rules = {e.rule for e in u.requirements.evidence}
    assert {"intent.traffic.rps", "intent.autoscaling", "intent.budget", "intent.location", "intent.strategy", "intent.instance-type"} <= rules
    budget = next(e for e in u.requirements.evidence if e.rule == "intent.budget")
    assert "$500/month" in budget.detail


def test_location_resolves_per_cloud_and_rps_derivation():
    assert resolve_location("paris", C.CLOUD_AWS) == "eu-west-3"
    assert resolve_location("paris", C.CLOUD_GCP) == "europe-west9"
    assert resolve_location("paris", C.CLOUD_AZURE) == "francecentral"
    assert derived_rps(common_pb2.Requirements(expected_users=10_000))[0] == 100
    assert derived_rps(common_pb2.Requirements(expected_rps=42))[0] == 42
    assert derived_rps(common_pb2.Requirements())[0] == 10


def test_users_connected_at_once_are_all_active_unlike_a_user_base():
    # 15,000 users of a service: ~1% active at peak. 15,000 connected at peak: every one active,
    # a request every 50 s each. A rate the prompt states wins over either.
    daily = understand("Deploy it for 15000 daily users")
    assert daily.requirements.expected_rps == 0 and derived_rps(daily.requirements)[0] == 150
    concurrent = understand("production deployment for 15000 concurrent users at peak")
    assert concurrent.requirements.expected_users == 15000
    assert derived_rps(concurrent.requirements)[0] == 300
    note = next(e for e in concurrent.requirements.evidence if e.rule == "intent.traffic.concurrent")
    assert "1 request per 50 s = 300 requests/s" in note.detail
    assert derived_rps(understand("20k simultaneous players").requirements)[0] == 400
    assert derived_rps(understand("5000 concurrent users, 80 requests per second").requirements)[0] == 80
