"""Capacity lessons from past deployments: a single instance saturated at peak, or bursts without
autoscaling, become learned requirements (two or more instances, autoscaling) when similar
deployments under a comparable load agree, and the plan says so and cites them."""

from __future__ import annotations

from scia.planner import retrieval
from scia.planner.analysis import RepoFiles, analyze_files
from scia.planner.decide import make_plan
from scia.planner.intent import understand
from scia.planner.pricing import bundled_catalogue
from scia.v1 import common_pb2, planner_pb2, rag_pb2

S = common_pb2.Strategy
CAT = bundled_catalogue()
FLASK = {"requirements.txt": "flask==3.0.0\ngunicorn\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
APP = common_pb2.Application(framework="flask", language="python")
PROMPT = "an order API for about 2000 users"


def plan_for(prompt: str = PROMPT, retrieved=None) -> common_pb2.Plan:
    analysis = analyze_files(RepoFiles.from_dict(FLASK))
    return make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt),
                     planner_pb2.CloudConstraints(), CAT, retrieved)


def past(record_id: str, outcome: int, *, score: float = 0.8, reason: str = "", instances: int = 1, autoscaling: bool = False,
         users: int = 2000, framework: str = "flask", up: int = 0) -> rag_pb2.RetrievedDeployment:
    config = common_pb2.Configuration(cloud=common_pb2.CLOUD_AWS, region="us-east-1")
    config.vm.instance_type = "t3.small"
    config.vm.instance_count = config.vm.min_count = instances
    config.vm.max_count = instances * 3 if autoscaling else instances
    plan = common_pb2.Plan(strategy=S.STRATEGY_VM, configuration=config,
                           requirements=common_pb2.Requirements(expected_users=users))
    record = common_pb2.DeploymentRecord(
        id=record_id, tenant="team-a", name=f"app-{record_id}", revision=1, outcome=outcome, outcome_reason=reason,
        analysis=common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(framework=framework, language="python")]),
        plan=plan, feedback=common_pb2.FeedbackSummary(up=up))
    return rag_pb2.RetrievedDeployment(record=record, score=score)


SATURATED = "single instance saturated: 5xx during peak traffic on 1 x t3.small"
BURSTS = "p99 latency over target during traffic bursts without autoscaling on t3.small"


def test_a_saturated_single_instance_teaches_high_availability():
    before = plan_for()
    assert before.configuration.WhichOneof("workload") == "vm" and before.configuration.vm.instance_count == 1
    failure = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED)
    evidence = retrieval.assess([failure], APP, CAT, rps=20)
    assert set(evidence.needs) == {"high_availability"}
    after = plan_for(retrieved=[failure])
    workload = after.configuration.WhichOneof("workload")
    count = after.configuration.vm.instance_count if workload == "vm" else after.configuration.kubernetes.replicas
    assert count >= 2
    assert any(c.record_id == "sat" and c.influence.startswith("requirement learned: two or more instances") for c in after.citations)
    assert "planned for two or more instances" in after.reason
    # The plan keeps what the intent said; the lesson is in the reason and the citations.
    assert not after.requirements.high_availability


def test_a_learned_second_instance_buys_no_database_standby():
    # The lesson is about the app's capacity; only a stated high availability asks the database
    # to survive a zone loss (a standby, which doubles its bill).
    compose = "services:\n  web:\n    build: .\n  db:\n    image: postgres:16\n"
    analysis = analyze_files(RepoFiles.from_dict({**FLASK, "docker-compose.yml": compose}))
    failure = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED)

    def database(prompt: str, retrieved=None) -> common_pb2.ManagedService:
        plan = make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt),
                         planner_pb2.CloudConstraints(), CAT, retrieved)
        return next(m for m in plan.configuration.managed_services if m.kind == "postgres")

    learned = database(PROMPT, [failure])
    assert not learned.high_availability
    assert database(PROMPT + ". It must be highly available.", [failure]).high_availability
    assert database(PROMPT + ". It must be highly available.").high_availability


def test_bursts_without_autoscaling_teach_autoscaling():
    failure = past("burst", common_pb2.OUTCOME_DEGRADED, reason=BURSTS)
    assert set(retrieval.assess([failure], APP, CAT, rps=20).needs) == {"autoscaling"}
    after = plan_for(retrieved=[failure])
    config = after.configuration
    workload = config.WhichOneof("workload")
    scaling = (config.vm.max_count > config.vm.min_count if workload == "vm"
               else config.kubernetes.max_nodes > config.kubernetes.min_nodes if workload == "kubernetes" else True)
    assert scaling
    assert any(c.influence == "requirement learned: autoscaling" for c in after.citations)


def test_autoscaling_is_learned_on_less_evidence_than_a_second_instance():
    # A weak lesson (0.3 net, under the 0.35 a second instance needs) is enough for autoscaling,
    # cheap insurance, but not for high availability, which doubles the compute.
    weak = 0.3
    bursts = past("burst", common_pb2.OUTCOME_DEGRADED, reason=BURSTS, score=weak)
    saturated = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED, score=weak)
    for result, need in ((bursts, "autoscaling"), (saturated, "high_availability")):
        support, contra = retrieval.assess([result], APP, CAT, rps=20).need_balance[need]
        assert retrieval.NEED_THRESHOLDS["autoscaling"] <= support - contra < retrieval.NEED_THRESHOLDS["high_availability"]
    assert set(retrieval.assess([bursts], APP, CAT, rps=20).needs) == {"autoscaling"}
    assert not retrieval.assess([saturated], APP, CAT, rps=20).needs


def test_similar_successes_on_one_instance_contradict_the_lesson():
    failure = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED)
    fine = [past(f"ok{i}", common_pb2.OUTCOME_SUCCESS, up=2) for i in range(2)]
    assert not retrieval.assess([failure, *fine], APP, CAT, rps=20).needs
    assert plan_for(retrieved=[failure, *fine]).configuration.vm.instance_count == 1


def test_a_lesson_from_a_very_different_load_is_discounted():
    # Saturated at 30,000 users (300 requests/s); this app expects 20 users: 0.8 x 0.5 x 0.2 < threshold.
    failure = past("big", common_pb2.OUTCOME_DEGRADED, reason=SATURATED, users=30_000)
    assert retrieval.load_factor(failure.record, 1.0) == 0.2
    assert retrieval.load_factor(failure.record, 300.0) == 1.0
    assert retrieval.load_factor(failure.record, 0.0) == 1.0  # unknown load: no discount
    assert not retrieval.assess([failure], APP, CAT, rps=1.0).needs
    assert "high_availability" in retrieval.assess([failure], APP, CAT, rps=300.0).needs


def test_what_the_intent_already_asks_is_not_relearned():
    failure = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED)
    plan = plan_for(PROMPT + ". It must be highly available.", retrieved=[failure])
    assert not any(c.influence.startswith("requirement learned") for c in plan.citations)


def test_other_failures_teach_no_capacity_need():
    oom = past("oom", common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small")
    assert not retrieval.assess([oom], APP, CAT, rps=20).needs


def test_a_lesson_applies_a_fortiori_across_loads():
    # Saturated at 20 users (1 request/s): an app expecting 300 requests/s will saturate too.
    small = past("small", common_pb2.OUTCOME_DEGRADED, reason=SATURATED, users=20)
    assert retrieval.load_factor(small.record, 300.0) == 1.0
    assert "high_availability" in retrieval.assess([small], APP, CAT, rps=300.0).needs
    # Coped on one instance at 30,000 users: evidence against the need for an app at 20 requests/s...
    big_ok = past("big-ok", common_pb2.OUTCOME_SUCCESS, users=30_000, up=1)
    assert retrieval.load_factor(big_ok.record, 20.0) == 1.0
    # ...but coping at 20 users says little about 300 requests/s.
    small_ok = past("small-ok", common_pb2.OUTCOME_SUCCESS, users=20, up=1)
    assert retrieval.load_factor(small_ok.record, 300.0) == 0.2


def test_capacity_failures_teach_the_count_not_to_leave_the_strategy():
    # Two VMs saturated on one instance: the lesson is "more than one instance", not "not a VM".
    # Counting them against VMs too sent plans to functions, which the same load throttles.
    failures = [past(f"sat{i}", common_pb2.OUTCOME_DEGRADED, reason=SATURATED) for i in range(2)]
    evidence = retrieval.assess(failures, APP, CAT, rps=20)
    assert "high_availability" in evidence.needs
    assert S.STRATEGY_VM not in evidence.strategy_delta
    after = plan_for(retrieved=failures)
    assert after.strategy == S.STRATEGY_VM and after.configuration.vm.instance_count >= 2
    # A function throttled at its concurrency limit is still a lesson against functions.
    throttled = past("thr", common_pb2.OUTCOME_DEGRADED, reason="throttled at the concurrency limit during peak traffic on lambda")
    throttled.record.plan.strategy = S.STRATEGY_SERVERLESS
    assert retrieval.assess([throttled], APP, CAT, rps=20).strategy_delta[S.STRATEGY_SERVERLESS][0] < 0


def test_a_learned_need_is_met_by_the_cheapest_strategy_not_a_cluster_over_budget():
    # A containerised app (a cluster's "already containerised" point) under a $100 budget learns
    # it needs two instances and autoscaling. Two VMs in a group meet the lesson within the budget;
    # the cluster must not win on the points an *asked-for* need gives it.
    prompt = "an order API for about 2000 users, budget $100 a month"
    files = {**FLASK, "Dockerfile": "FROM python:3.12\nCOPY . .\nCMD gunicorn app:app\n"}
    analysis = analyze_files(RepoFiles.from_dict(files))
    lessons = [past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED), past("burst", common_pb2.OUTCOME_DEGRADED, reason=BURSTS)]
    plan = make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt), planner_pb2.CloudConstraints(),
                     CAT, lessons)
    assert plan.strategy == S.STRATEGY_VM
    vm = plan.configuration.vm
    assert vm.instance_count >= 2 and vm.max_count > vm.min_count
    assert plan.cost.monthly_total_usd <= 100
    cluster = next(a for a in plan.alternatives if a.strategy == S.STRATEGY_KUBERNETES)
    assert "pods rescheduled" not in cluster.reason and "autoscaling of pods" not in cluster.reason
    # Asked for in words, the same needs still earn the cluster its points (the rules are unchanged).
    asked = "an order API for about 2000 users, highly available, with autoscaling, budget $100 a month"
    stated = make_plan(analysis, common_pb2.DeploymentIntent(prompt=asked), understand(asked), planner_pb2.CloudConstraints(), CAT, None)
    assert "pods rescheduled" in next(a for a in [*stated.alternatives, stated] if a.strategy == S.STRATEGY_KUBERNETES).reason


def passed_on(record_id: str) -> rag_pb2.RetrievedDeployment:
    """A well-rated success that had high availability passed on to it (two instances, the lesson cited)."""
    result = past(record_id, common_pb2.OUTCOME_SUCCESS, instances=2, up=1)
    result.record.plan.citations.add(record_id="older", influence="requirement learned: two or more instances (high availability)")
    return result


def test_a_lesson_only_passed_on_does_not_put_the_plan_over_the_budget():
    # Successes planned with a second instance show it did no harm, not that it was needed: such
    # a lesson yields to a stated budget, with the costs in the warning. Without a budget it holds.
    evidence = retrieval.assess([passed_on("p")], APP, CAT, rps=20)
    assert set(evidence.needs) == {"high_availability"} and not evidence.first_hand_needs
    assert plan_for(retrieved=[passed_on("p")]).configuration.vm.instance_count == 2

    within = plan_for(PROMPT + ", under $30/month", [passed_on("p")])
    assert within.configuration.vm.instance_count == 1 and within.cost.monthly_total_usd <= 30
    warning = next(w for w in within.warnings if w.startswith("not planned for two or more instances"))
    assert "over the $30 budget" in warning and "no similar deployment failed without it" in warning
    assert not any(c.influence.startswith("requirement learned") for c in within.citations)


def test_a_lesson_taught_by_a_failure_outranks_the_budget():
    # A similar app saturated on one instance: the second instance is planned even over budget
    # (a soft budget warns), since one instance is known to fail.
    failure = past("sat", common_pb2.OUTCOME_DEGRADED, reason=SATURATED)
    assert retrieval.assess([failure], APP, CAT, rps=20).first_hand_needs == {"high_availability"}
    plan = plan_for(PROMPT + ", under $30/month", [failure, passed_on("p")])
    assert plan.configuration.vm.instance_count == 2
    assert any("over the budget of $30.00" in w for w in plan.warnings)
    assert not any(w.startswith("not planned for") for w in plan.warnings)
