"""Pricing, budget verdicts, the knowledge-base engine and the retrieval-augmented adjustment."""

from __future__ import annotations

import json

import pytest

from scia.planner import decide, pricing, retrieval
from scia.planner.analysis import RepoFiles, analyze_files
from scia.planner.decide import make_plan
from scia.planner.intent import understand
from scia.planner.pricing import bundled_catalogue
from scia.v1 import common_pb2, planner_pb2, rag_pb2

S, C = common_pb2.Strategy, common_pb2.Cloud
CAT = bundled_catalogue()
FLASK = {"requirements.txt": "flask==3.0.0\ngunicorn\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
# A light app whose knowledge-base VM is the smallest type (t3.micro): room to learn upward.
FASTAPI = {"requirements.txt": "fastapi\nuvicorn\n", "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}


def plan_for(files: dict, prompt: str = "", retrieved=None, constraints=None, **intent_fields) -> common_pb2.Plan:
    analysis = analyze_files(RepoFiles.from_dict(files))
    intent = common_pb2.DeploymentIntent(prompt=prompt, **intent_fields)
    return make_plan(analysis, intent, understand(prompt), constraints or planner_pb2.CloudConstraints(), CAT, retrieved)


# --- pricing ------------------------------------------------------------------------------------


def test_catalogue_covers_three_clouds_with_sources_dates_and_three_regions_each():
    data = CAT.data
    assert data["source"] and data["as_of"]
    for cloud in (C.CLOUD_AWS, C.CLOUD_GCP, C.CLOUD_AZURE):
        c = CAT.cloud(cloud)
        assert c["source"] and c["as_of"] and len(c["regions"]) >= 3
        for region in c["regions"].values():
            assert set(c["ladder"]) <= set(region["instances"])


def test_vm_cost_formula():
    vm = common_pb2.VmConfig(instance_type="t3.small", instance_count=2, min_count=2, max_count=2, volume_size_gb=30)
    cost = pricing.vm_cost(CAT, C.CLOUD_AWS, "us-east-1", vm, load_balancer=False)
    assert cost.monthly_total_usd == pytest.approx(2 * 0.0208 * 730 + 2 * 30 * 0.08, abs=0.02)
    assert [i.name for i in cost.items] == ["compute", "block storage"]
    assert "2 x t3.small x 730 h" in cost.items[0].description and "2025" in cost.pricing_source


def test_kubernetes_and_serverless_cost_formulas():
    k8s = common_pb2.KubernetesConfig(node_type="t3.medium", desired_nodes=3, node_volume_size_gb=20)
    cost = pricing.kubernetes_cost(CAT, C.CLOUD_AWS, "us-east-1", k8s)
    expected = 3 * 0.0416 * 730 + 3 * 20 * 0.08 + 0.10 * 730 + 0.0225 * 730 + 0.008 * 730
    assert cost.monthly_total_usd == pytest.approx(expected, abs=0.05)
    fn = common_pb2.ServerlessConfig(memory_mb=512, timeout_seconds=30)
    cost = pricing.serverless_cost(CAT, C.CLOUD_AWS, "us-east-1", fn, monthly_requests=10_000_000, duration_ms=100)
    expected = 10e6 * 0.1 * 0.5 * 0.0000166667 + 10 * 0.20 + 10 * 1.0
    assert cost.monthly_total_usd == pytest.approx(expected, abs=0.05)


def test_unknown_region_falls_back_with_a_note_and_unknown_types_fail():
    prices, note = CAT.region_prices(C.CLOUD_AWS, "ap-south-2")
    assert "no prices for region 'ap-south-2'" in note and prices is CAT.cloud(C.CLOUD_AWS)["regions"]["eu-west-3"]
    with pytest.raises(pricing.PricingError, match="not in the aws pricing catalogue"):
        pricing.instance_price(CAT, C.CLOUD_AWS, "us-east-1", "x9.huge")


def test_budget_verdicts():
    V = common_pb2.BudgetVerdict
    assert pricing.budget_verdict(100, 0, 0, 0).status == V.STATUS_NO_BUDGET
    assert pricing.budget_verdict(100, 300, 0, 0).status == V.STATUS_WITHIN
    alert = pricing.budget_verdict(250, 300, 0, 0)
    assert alert.status == V.STATUS_ALERT and "alert at 80%" in alert.message
    assert pricing.budget_verdict(250, 300, 0.9, 0).status == V.STATUS_WITHIN
    over = pricing.budget_verdict(400, 300, 0, common_pb2.BUDGET_ENFORCEMENT_HARD)
    assert over.status == V.STATUS_OVER and "rejected" in over.message


def test_invalid_catalogue_is_refused(tmp_path):
    broken = json.loads(json.dumps(CAT.data))
    del broken["clouds"]["aws"]["regions"]["us-east-1"]["instances"]["t3.small"]
    path = tmp_path / "pricing.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(pricing.PricingError, match="no price for \\['t3.small'\\]"):
        pricing.load_catalogue(path)


# --- knowledge base -------------------------------------------------------------------------------


def test_flask_with_ha_under_budget_in_paris():
    plan = plan_for(FLASK, "deploy this Flask app with high availability, under $300/month in eu-west-3",
                    policies=["require-https", "enable-monitoring"])
    assert plan.strategy == S.STRATEGY_VM and not plan.rejected
    vm = plan.configuration.vm
    assert vm.instance_count >= 2 and len(vm.zones) >= 2 and vm.zones[0] == "eu-west-3a"
    assert plan.configuration.region == "eu-west-3" and plan.configuration.cloud == C.CLOUD_AWS
    assert plan.configuration.https and plan.configuration.monitoring
    assert plan.configuration.app_port == 5000
    assert plan.budget.status == common_pb2.BudgetVerdict.STATUS_WITHIN
    assert {i.name for i in plan.cost.items} >= {"compute", "block storage", "load balancer", "monitoring"}
    assert plan.provenance.engine == "knowledge-base" and not plan.provenance.retrieval_used
    assert len(plan.alternatives) == 2 and all(a.reason and a.cost.monthly_total_usd > 0 for a in plan.alternatives)
    assert "flask" in plan.reason and "requirements.txt:1" in plan.reason
    assert 0 < plan.confidence <= 1
    assert plan.requirements.high_availability


def test_websockets_rule_out_serverless_even_for_light_traffic():
    files = dict(FLASK, **{"requirements.txt": "flask\nflask-socketio\n"})
    plan = plan_for(files, "small chat app")
    assert plan.strategy != S.STRATEGY_SERVERLESS
    serverless = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_SERVERLESS)
    assert "anti-pattern: websockets" in serverless.reason


def test_explicit_serverless_with_websockets_is_honoured_with_a_warning():
    plan = plan_for(dict(FLASK, **{"requirements.txt": "flask\nflask-socketio\n"}), "serverless please")
    assert plan.strategy == S.STRATEGY_SERVERLESS
    assert any("serverless was asked for despite" in w and "websockets" in w for w in plan.warnings)


def test_gpu_blocks_serverless_even_when_asked():
    files = {"requirements.txt": "torch\nfastapi\ncupy\n", "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    plan = plan_for(files, "serverless", strategy=S.STRATEGY_SERVERLESS)
    assert plan.strategy != S.STRATEGY_SERVERLESS
    assert plan.configuration.WhichOneof("workload") in ("vm", "kubernetes")
    workload = plan.configuration.vm.instance_type or plan.configuration.kubernetes.node_type
    assert workload == "g4dn.xlarge"
    assert any("not possible" in w and "no GPU" in w for w in plan.warnings)


def test_long_jobs_block_serverless():
    files = {"requirements.txt": "celery\n", "tasks.py": "from celery import Celery\napp = Celery('t')\n@app.task(time_limit=3600)\ndef f(): pass\n"}
    plan = plan_for(files, "")
    serverless = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_SERVERLESS)
    assert "over the 15-minute function limit" in serverless.reason and serverless.confidence == 0


def test_long_jobs_of_unknown_duration_are_an_anti_pattern_for_functions():
    analysis = common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(
        name="reports", language="node", framework="express",
        traits=[common_pb2.Trait(kind=common_pb2.TRAIT_KIND_LONG_RUNNING_JOBS, evidence=[common_pb2.Evidence(file="jobs.js", line=4)])])])
    prompt = "a reporting API for a handful of internal users"
    plan = make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt), planner_pb2.CloudConstraints(), CAT, None)
    assert plan.strategy != S.STRATEGY_SERVERLESS
    serverless = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_SERVERLESS)
    assert "anti-pattern: long-running jobs (jobs.js:4) with no declared duration" in serverless.reason and serverless.confidence > 0


def test_static_site_goes_serverless_on_object_storage():
    plan = plan_for({"index.html": "<html></html>"}, "")
    assert plan.strategy == S.STRATEGY_SERVERLESS
    assert {i.name for i in plan.cost.items} == {"object storage", "CDN transfer"}


def test_compose_with_many_services_goes_to_kubernetes_with_managed_services():
    files = {
        "api/requirements.txt": "fastapi\n", "api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n", "api/Dockerfile": "FROM python:3.12\n",
        "web/package.json": '{"dependencies": {"next": "14"}}', "worker/requirements.txt": "celery\n",
        "docker-compose.yml": "services:\n  api: {build: ./api}\n  web: {build: ./web}\n  worker: {build: ./worker}\n"
                              "  db: {image: postgres:16}\n  cache: {image: redis:7}\n  mq: {image: rabbitmq:3}\n",
    }
    plan = plan_for(files, "production launch with autoscaling, 300 rps")
    assert plan.strategy == S.STRATEGY_KUBERNETES
    k8s = plan.configuration.kubernetes
    assert k8s.min_nodes <= k8s.desired_nodes <= k8s.max_nodes and k8s.replicas >= 2
    assert {m.kind for m in plan.configuration.managed_services} == {"postgres", "redis"}
    assert any("rabbitmq" in w and "not priced" in w for w in plan.warnings)
    vm = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_VM)
    assert "services (> 5) on VMs" in vm.reason
    assert any(i.name == "control plane" for i in plan.cost.items)


def test_overrides_from_the_prompt_are_honoured():
    plan = plan_for(FLASK, "on a VM, use t3.large, 3 instances")
    assert plan.strategy == S.STRATEGY_VM
    assert (plan.configuration.vm.instance_type, plan.configuration.vm.instance_count) == ("t3.large", 3)
    plan = plan_for(FLASK, "use e2-standard-2 on a VM", constraints=planner_pb2.CloudConstraints(cloud=C.CLOUD_AWS))
    assert any("e2-standard-2 is a CLOUD_GCP type" in w for w in plan.warnings)


def test_city_and_cloud_resolve_the_region():
    plan = plan_for(FLASK, "deploy in Paris on Azure")
    assert (plan.configuration.cloud, plan.configuration.region) == (C.CLOUD_AZURE, "francecentral")
    assert plan.configuration.vm.instance_type.startswith("Standard_")


def test_hard_budget_rejects_and_soft_budget_warns():
    hard = plan_for(FLASK, "with high availability", budget=common_pb2.Budget(max_monthly_cost_usd=10, enforcement=common_pb2.BUDGET_ENFORCEMENT_HARD))
    assert hard.rejected and "over the budget of $10.00" in hard.rejection_reason
    soft = plan_for(FLASK, "with high availability, budget $10/month")
    assert not soft.rejected and any("over the budget" in w for w in soft.warnings)
    assert soft.budget.status == common_pb2.BudgetVerdict.STATUS_OVER


def test_constraints_regions_quotas_and_cloud():
    allowed = planner_pb2.CloudConstraints(cloud=C.CLOUD_AWS, allowed_regions=["eu-central-1"])
    assert plan_for(FLASK, "", constraints=allowed).configuration.region == "eu-central-1"
    forbidden = plan_for(FLASK, "in us-east-1", constraints=allowed)
    assert forbidden.rejected and "us-east-1 is not allowed" in forbidden.rejection_reason
    other_cloud = plan_for(FLASK, "", constraints=planner_pb2.CloudConstraints(cloud=C.CLOUD_GCP), cloud=C.CLOUD_AZURE)
    assert other_cloud.rejected and "CLOUD_AZURE" in other_cloud.rejection_reason
    no_cluster = plan_for(FLASK, "on kubernetes", constraints=planner_pb2.CloudConstraints(quotas={"maxClusters": 0}))
    assert no_cluster.strategy != S.STRATEGY_KUBERNETES
    tags = plan_for(FLASK, "", constraints=planner_pb2.CloudConstraints(tags={"team": "shop"})).configuration.tags
    assert tags["team"] == "shop" and tags["managed-by"] == "scia"


def test_unknown_policy_is_warned_about():
    plan = plan_for(FLASK, "", policies=["require-https", "encrypt-everything"])
    assert plan.configuration.https
    assert any("unknown policy 'encrypt-everything'" in w for w in plan.warnings)


def test_load_sizes_the_fleet():
    light = plan_for(FLASK, "on a VM, 5 rps").configuration.vm
    heavy = plan_for(FLASK, "on a VM, 400 rps").configuration.vm
    light_gb, heavy_gb = CAT.memory_gb(C.CLOUD_AWS, light.instance_type), CAT.memory_gb(C.CLOUD_AWS, heavy.instance_type)
    assert heavy.instance_count * heavy_gb > light.instance_count * light_gb


# --- the retrieval-augmented adjustment ---------------------------------------------------------------


def past(record_id: str, strategy: int, outcome: int, *, score: float, reason: str = "", instance: str = "", memory_mb: int = 0,
         framework: str = "flask", language: str = "python", up: int = 0, down: int = 0) -> rag_pb2.RetrievedDeployment:
    config = common_pb2.Configuration(cloud=C.CLOUD_AWS, region="eu-west-3")
    if strategy == S.STRATEGY_VM:
        config.vm.instance_type = instance
    elif strategy == S.STRATEGY_KUBERNETES:
        config.kubernetes.node_type = instance
    else:
        config.serverless.memory_mb = memory_mb
    record = common_pb2.DeploymentRecord(
        id=record_id, tenant="team-a", name=f"app-{record_id}", revision=3, outcome=outcome, outcome_reason=reason,
        analysis=common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(framework=framework, language=language)]),
        plan=common_pb2.Plan(strategy=strategy, configuration=config), feedback=common_pb2.FeedbackSummary(up=up, down=down))
    return rag_pb2.RetrievedDeployment(record=record, score=score)


def test_an_out_of_memory_failure_sizes_up_and_is_cited():
    before = plan_for(FASTAPI, "on a VM")
    assert before.configuration.vm.instance_type == "t3.micro"
    failure = past("r1", S.STRATEGY_VM, common_pb2.OUTCOME_FAILED, score=0.82, reason="OOMKilled: out of memory",
                   instance="t3.micro", framework="fastapi")
    after = plan_for(FASTAPI, "on a VM", retrieved=[failure])
    assert after.configuration.vm.instance_type == "t3.small"
    citation = after.citations[0]
    assert (citation.record_id, citation.influence, citation.outcome) == ("r1", "t3.micro -> t3.small", common_pb2.OUTCOME_FAILED)
    assert citation.score == pytest.approx(0.82)
    assert "t3.micro -> t3.small" not in after.reason and "t3.small instead of t3.micro" in after.reason
    assert "Learned from past deployments" in after.reason
    assert after.provenance.engine == "knowledge-base+retrieval" and after.provenance.retrieval_used
    assert after.cost.monthly_total_usd > before.cost.monthly_total_usd


def test_disagreeing_successes_outweigh_a_weak_failure():
    failure = past("f", S.STRATEGY_VM, common_pb2.OUTCOME_FAILED, score=0.5, reason="out of memory", instance="t3.micro")
    successes = [past(f"s{i}", S.STRATEGY_VM, common_pb2.OUTCOME_SUCCESS, score=0.6, instance="t3.micro", up=3) for i in range(2)]
    evidence = retrieval.assess([failure, *successes], common_pb2.Application(framework="fastapi", language="python"), CAT)
    assert S.STRATEGY_VM not in evidence.memory_floor_gb
    plan = plan_for(FASTAPI, "on a VM", retrieved=[failure, *successes])
    assert plan.configuration.vm.instance_type == "t3.micro"
    assert all(c.influence.startswith("supports vm") for c in plan.citations)


def test_weak_and_unrelated_evidence_changes_nothing():
    unrelated = past("u", S.STRATEGY_VM, common_pb2.OUTCOME_FAILED, score=0.9, reason="out of memory", instance="t3.micro", framework="rails", language="ruby")
    evidence = retrieval.assess([unrelated], common_pb2.Application(framework="flask", language="python"), CAT)
    assert S.STRATEGY_VM not in evidence.memory_floor_gb  # 0.9 x 0.25 (other language) < threshold
    weak = past("w", S.STRATEGY_VM, common_pb2.OUTCOME_FAILED, score=0.2, reason="OOM", instance="t3.micro")
    assert not retrieval.assess([weak], common_pb2.Application(framework="flask"), CAT).memory_floor_gb


def test_cold_start_failures_push_away_from_serverless():
    app = common_pb2.Application(framework="flask", language="python")
    failures = [past(f"c{i}", S.STRATEGY_SERVERLESS, common_pb2.OUTCOME_FAILED, score=0.9, reason="cold start timeouts at p99", memory_mb=512) for i in range(3)]
    evidence = retrieval.assess(failures, app, CAT)
    delta, why = evidence.strategy_delta[S.STRATEGY_SERVERLESS]
    assert delta == pytest.approx(-retrieval.MAX_STRATEGY_DELTA) and "cold start" in why
    light = {"requirements.txt": "flask\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
    baseline = plan_for(light, "tiny API, 1 rps, bursty")
    assert baseline.strategy == S.STRATEGY_SERVERLESS
    learned = plan_for(light, "tiny API, 1 rps, bursty", retrieved=failures)
    assert learned.strategy != S.STRATEGY_SERVERLESS
    assert any(c.influence == f"strategy serverless -> {('vm', 'kubernetes')[learned.strategy == S.STRATEGY_KUBERNETES]}" for c in learned.citations)
    assert "changed the strategy" in learned.reason


def test_well_rated_success_pulls_toward_its_size():
    success = past("good", S.STRATEGY_VM, common_pb2.OUTCOME_SUCCESS, score=0.9, instance="t3.small", up=5)
    plan = plan_for(FASTAPI, "on a VM", retrieved=[success])
    assert plan.configuration.vm.instance_type == "t3.small"
    assert plan.citations[0].influence == "t3.micro -> t3.small"
    disliked = past("bad", S.STRATEGY_VM, common_pb2.OUTCOME_SUCCESS, score=0.9, instance="t3.small", down=5)
    assert plan_for(FASTAPI, "on a VM", retrieved=[disliked]).configuration.vm.instance_type == "t3.micro"


def test_a_pull_toward_a_larger_size_never_breaks_the_budget():
    success = past("good", S.STRATEGY_VM, common_pb2.OUTCOME_SUCCESS, score=0.9, instance="t3.small", up=5)
    free = plan_for(FASTAPI, "on a VM", retrieved=[success])
    assert free.configuration.vm.instance_type == "t3.small"
    # A budget between the two: the pull is a preference, the budget a constraint.
    budget = (plan_for(FASTAPI, "on a VM").cost.monthly_total_usd + free.cost.monthly_total_usd) / 2
    held = plan_for(FASTAPI, f"on a VM, budget ${budget:.2f} per month", retrieved=[success])
    assert held.configuration.vm.instance_type == "t3.micro" and held.cost.monthly_total_usd <= budget
    assert held.budget.status != common_pb2.BudgetVerdict.STATUS_OVER


def test_a_success_one_size_down_does_not_pull_the_plan_down():
    # It shows its app fit there, not that this one will without the headroom rule's margin; not
    # even over a budget (a size too small is an out-of-memory kill, not a saving).
    success = past("good", S.STRATEGY_VM, common_pb2.OUTCOME_SUCCESS, score=0.9, instance="t3.micro", up=5)
    for prompt in ("on a VM", "on a VM, budget $5 per month"):
        plan = plan_for(FLASK, prompt, retrieved=[success])
        assert plan.configuration.vm.instance_type == "t3.small"
        assert not any("->" in c.influence for c in plan.citations)
    assert plan.reason.count("over the $5 budget") == 1


def test_the_instance_holds_the_working_set_the_planner_expects_worker_included():
    # size_vm and the working-set model that learns from observed memory are one rule: the chosen
    # instance holds (by the headroom rule) what `expected_working_set_mb` says the app uses,
    # a worker process beside the web process included.
    worker = {**FASTAPI, "worker.py": "from celery import Celery\napp = Celery()\n", "requirements.txt": "fastapi\nuvicorn\ncelery\n"}
    for files in (FASTAPI, FLASK, worker):
        for prompt in ("on a VM, 2 rps", "on a VM, 60 rps", "on a VM, 300 rps"):
            plan = plan_for(files, prompt)
            app = analyze_files(RepoFiles.from_dict(files)).applications[0]
            memory_gb = CAT.memory_gb(C.CLOUD_AWS, plan.configuration.vm.instance_type)
            assert decide.vm_holds_mb(memory_gb) >= decide.expected_working_set_mb(app, plan.requirements), (files, prompt)


def test_serverless_memory_failure_raises_function_memory():
    files = {"requirements.txt": "fastapi\n", "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    before = plan_for(files, "serverless")
    failure = past("fn", S.STRATEGY_SERVERLESS, common_pb2.OUTCOME_FAILED, score=0.7, reason="Runtime exited: out of memory",
                   memory_mb=before.configuration.serverless.memory_mb, framework="fastapi")
    after = plan_for(files, "serverless", retrieved=[failure])
    assert after.configuration.serverless.memory_mb > before.configuration.serverless.memory_mb
    assert after.citations[0].influence == f"{before.configuration.serverless.memory_mb} MB -> {after.configuration.serverless.memory_mb} MB"


def test_when_nothing_fits_the_budget_the_least_over_is_preferred():
    plan = plan_for(FLASK, "Flask API with high availability and autoscaling for 30,000 users, budget $60 a month")
    over = {a.strategy: a.cost.monthly_total_usd for a in plan.alternatives}
    assert plan.cost.monthly_total_usd > 60 and plan.budget.status == common_pb2.BudgetVerdict.STATUS_OVER
    assert all(plan.cost.monthly_total_usd <= cost for strategy, cost in over.items() if cost > 60)


def test_memory_per_instance_grows_with_load_but_a_functions_does_not():
    light = plan_for(FASTAPI, "on a VM, 5 rps")
    moderate = plan_for(FASTAPI, "on a VM, 50 rps")
    assert CAT.memory_gb(C.CLOUD_AWS, moderate.configuration.vm.instance_type) > CAT.memory_gb(C.CLOUD_AWS, light.configuration.vm.instance_type)
    assert "x2 for moderate load (50 requests/s" in moderate.reason
    # One request per function instance: the process's memory whatever the load, at least 512 MB.
    small = plan_for(FASTAPI, "serverless, 5 rps").configuration.serverless.memory_mb
    busy = plan_for(FASTAPI, "serverless, 50 rps").configuration.serverless.memory_mb
    assert small == busy == 512


def test_a_heavy_load_gets_autoscaling_unless_the_size_is_fixed():
    plan = plan_for(FLASK, "Flask API, 400 rps")
    config = plan.configuration
    scaling = (config.vm.max_count > config.vm.min_count if config.WhichOneof("workload") == "vm"
               else config.kubernetes.max_nodes > config.kubernetes.min_nodes)
    assert scaling and any("autoscaling planned although not asked for: 400 requests/s" in w for w in plan.warnings)
    assert not plan.requirements.autoscaling  # what the request said stays as it was
    fixed = plan_for(FLASK, "Flask API, 400 rps, on a VM, 6 instances")
    assert fixed.configuration.vm.min_count == fixed.configuration.vm.max_count == 6
    assert not any("autoscaling planned" in w for w in fixed.warnings)


def test_autoscaling_one_small_service_is_an_autoscaling_group_not_a_cluster():
    plan = plan_for(FLASK, "Flask API for a few thousand users, it should autoscale")
    assert plan.strategy == S.STRATEGY_VM and plan.configuration.vm.max_count > plan.configuration.vm.min_count
    cluster = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_KUBERNETES)
    assert "overkill (an autoscaling group of VMs scales one service too)" in cluster.reason


def test_memory_over_the_function_maximum_blocks_functions():
    # 12 GB asked for one process is over the 10 GB function maximum: a blocker.
    huge = plan_for(FASTAPI, "12 GB of RAM, 5 rps")
    serverless = next(a for a in huge.alternatives if a.strategy == S.STRATEGY_SERVERLESS)
    assert "12288 MB is over the 10240 MB function maximum" in serverless.reason and serverless.confidence == 0


def test_an_autoscaling_group_runs_a_third_of_the_peaks_fleet_and_is_priced_at_it():
    # A fixed fleet sized for the peak idles most of the day: an autoscaling group keeps what the
    # ordinary load needs (a third of the peak's instances, at least two for high availability),
    # scales out to twice the peak's fleet, and the estimate bills the instances it keeps.
    plan = plan_for(FLASK, "on a VM, 600 requests per second")
    vm = plan.configuration.vm
    peak = vm.max_count // decide.SURGE_FACTOR
    assert peak >= 5 and vm.instance_count == vm.min_count == -(-peak // 3)
    assert f"{vm.instance_count} for the ordinary load, {peak} at the peak" in plan.reason, plan.reason
    billed = next(i for i in plan.cost.items if i.name == "compute")
    assert billed.quantity == vm.instance_count * 730
    ha = plan_for(FLASK, "on a VM, 600 requests per second, highly available, autoscaling").configuration.vm
    assert ha.min_count == max(2, -(-(ha.max_count // decide.SURGE_FACTOR) // 3))
    # A node count the request fixes is kept as the group's size.
    fixed = plan_for(FLASK, "on 4 VMs with autoscaling, 600 requests per second").configuration.vm
    assert fixed.instance_count == fixed.min_count == 4 and fixed.max_count == 12


def test_a_cpu_bound_fleet_is_the_cheapest_that_serves_the_peak_not_the_largest_type():
    # Flask at 600 requests/s needs ~15 vCPUs. The general-purpose ladder adds memory faster than
    # vCPUs (t3.medium and t3.large have 2 each, t3.2xlarge has 8 for 16x t3.small's price): the
    # fleet must be the cheapest that serves the peak, not the largest type at the fewest instances.
    plan = plan_for(FLASK, "on a VM, 600 requests per second")
    vm = plan.configuration.vm
    spec = CAT.spec(C.CLOUD_AWS, vm.instance_type)
    peak = vm.max_count // decide.SURGE_FACTOR  # the fleet the peak needs (autoscaling: a heavy load)
    vcpus = peak * spec["vcpu"]
    assert vcpus >= 600 / 60 / 0.7  # serves the peak at the profile's 60 requests/s per vCPU, 70% busy
    fleet = peak * pricing.instance_price(CAT, C.CLOUD_AWS, plan.configuration.region, vm.instance_type)
    ladder = CAT.ladder(C.CLOUD_AWS)
    for other in ladder[ladder.index(vm.instance_type) + 1:]:
        other_vcpu = CAT.spec(C.CLOUD_AWS, other)["vcpu"]
        same_cpu = -(-vcpus // other_vcpu) * pricing.instance_price(CAT, C.CLOUD_AWS, plan.configuration.region, other)
        assert fleet <= same_cpu + 0.01, other
    assert vm.instance_type != ladder[-1]


def test_high_availability_adds_a_standby_of_the_database_class_the_load_needs_not_a_bigger_class():
    files = {"requirements.txt": "flask\npsycopg2\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n",
             "docker-compose.yml": "services:\n  web: {build: .}\n  db: {image: postgres:16}\n"}
    single = plan_for(files, "a few internal users", cloud=C.CLOUD_AWS)
    ha = plan_for(files, "a few internal users, highly available across zones", cloud=C.CLOUD_AWS)
    (db_single,), (db_ha,) = single.configuration.managed_services, ha.configuration.managed_services
    assert db_ha.instance_class == db_single.instance_class == "db.t3.micro"
    assert db_ha.high_availability and not db_single.high_availability
    standby = next(i for i in ha.cost.items if i.name == "managed postgres")
    alone = next(i for i in single.cost.items if i.name == "managed postgres")
    assert standby.monthly_usd == pytest.approx(2 * alone.monthly_usd, abs=0.01) and "HA standby" in standby.description
    busy = plan_for(files, "6000 daily users", cloud=C.CLOUD_AWS)
    assert busy.configuration.managed_services[0].instance_class == "db.t3.small"  # the load, not availability, sizes it


def test_an_autoscaling_fleet_is_the_cheapest_at_the_minimum_it_keeps_running():
    # 8 x t3.large and 2 x t3.2xlarge serve the same peak for the same price, but an autoscaling
    # group of the smaller type keeps a third of them running (3 x t3.large), the larger one its
    # availability floor (2 x t3.2xlarge, four times the memory and the bill).
    files = {"requirements.txt": "flask\npandas\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
    plan = plan_for(files, "on a VM, 600 requests per second, highly available, autoscaling, 3 GB of memory")
    vm = plan.configuration.vm
    price = pricing.instance_price(CAT, C.CLOUD_AWS, plan.configuration.region, vm.instance_type)
    kept = vm.min_count * price
    ladder = CAT.ladder(C.CLOUD_AWS)
    for other in ladder[ladder.index(vm.instance_type) + 1:]:
        per = CAT.spec(C.CLOUD_AWS, other)["vcpu"] * decide.PROFILES["flask"].rps_per_vcpu * decide.TARGET_UTILISATION
        peak = -(-600 // per)
        assert kept <= decide.base_fleet(int(peak), 2) * pricing.instance_price(CAT, C.CLOUD_AWS, plan.configuration.region, other) + 0.01, other
    assert vm.max_count // decide.SURGE_FACTOR > vm.min_count >= 2  # it scales out for the peak
    assert plan.reason.count("asked for explicitly") == 1, plan.reason


def test_at_the_same_cost_an_autoscaling_group_takes_the_smaller_type():
    # 400 requests/s of Flask at the peak: 5 x t3.large or 3 x t3.xlarge. An autoscaling group
    # keeps 2 of the first or 1 of the second, the same bill: the smaller type scales in smaller steps.
    files = {"requirements.txt": "flask\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
    group = plan_for(files, "on a VM, 400 requests per second, autoscaling, 3 GB of memory").configuration.vm
    assert (group.instance_type, group.min_count, group.max_count // decide.SURGE_FACTOR) == ("t3.large", 2, 5)
