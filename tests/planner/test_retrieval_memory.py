"""Memory lessons read from what similar deployments really used, and how retrieved neighbours weigh.

- The RAG service's relevance clamps weak cosines to 0: a retrieved neighbour still weighs a
  lesson (RETRIEVED), the closest one or any as close as CLOSE_MATCH counts 1.
- A deployment's observed peak memory (metrics) over what the knowledge base expected of its app
  at its load is a working-set scale; out-of-memory failures give a lower bound. When similar
  deployments agree, the next plan is sized for that scale at once (several sizes if need be, at
  any load), not one size per failure.
"""

from __future__ import annotations

import pytest

from scia.planner import decide, retrieval
from scia.planner.analysis import RepoFiles, analyze_files
from scia.planner.decide import make_plan
from scia.planner.intent import understand
from scia.planner.pricing import bundled_catalogue
from scia.v1 import common_pb2, planner_pb2, rag_pb2

S = common_pb2.Strategy
CAT = bundled_catalogue()
FLASK = {"requirements.txt": "flask==3.0.0\ngunicorn\npandas==2.2.2\n",
         "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
APP = common_pb2.Application(framework="flask", language="python")
LIGHT = "an internal reporting API on a VM for about 500 users"  # 5 requests/s: light
MODERATE = "an internal reporting API on a VM for about 5000 users"  # 50 requests/s: moderate


def plan_for(prompt: str = LIGHT, retrieved=None) -> common_pb2.Plan:
    analysis = analyze_files(RepoFiles.from_dict(FLASK))
    return make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt),
                     planner_pb2.CloudConstraints(), CAT, retrieved)


def past(record_id: str, instance: str, *, outcome: int = common_pb2.OUTCOME_SUCCESS, utilisation: float = 0.0,
         users: int = 500, reason: str = "", relevance: float | None = 0.6, score: float = 0.8,
         up: int = 1) -> rag_pb2.RetrievedDeployment:
    config = common_pb2.Configuration(cloud=common_pb2.CLOUD_AWS, region="eu-west-3")
    config.vm.instance_type = instance
    config.vm.instance_count = config.vm.min_count = config.vm.max_count = 1
    record = common_pb2.DeploymentRecord(
        id=record_id, tenant="team-a", name=f"app-{record_id}", revision=1, outcome=outcome, outcome_reason=reason,
        analysis=common_pb2.RepositoryAnalysis(applications=[APP]),
        plan=common_pb2.Plan(strategy=S.STRATEGY_VM, configuration=config,
                             requirements=common_pb2.Requirements(expected_users=users)),
        metrics=common_pb2.PerformanceMetrics(memory_utilization=utilisation),
        feedback=common_pb2.FeedbackSummary(up=up if outcome == common_pb2.OUTCOME_SUCCESS else 0))
    result = rag_pb2.RetrievedDeployment(record=record, score=score)
    if relevance is not None:
        result.components.relevance = relevance
    return result


# --- lesson weights ------------------------------------------------------------------------------


def test_retrieved_neighbours_weigh_a_lesson_even_when_the_service_says_relevance_0():
    close = past("a", "t3.small", relevance=0.6)
    clamped = past("b", "t3.small", relevance=0.0)  # a cosine under the service's floor
    middle = past("c", "t3.small", relevance=0.3)
    assert retrieval.lesson_weights([close, clamped, middle]) == pytest.approx([1.0, retrieval.RETRIEVED, 0.75])
    # Nobody as close as CLOSE_MATCH: weights relative to CLOSE_MATCH, not inflated to 1.
    weak = [past("d", "t3.small", relevance=0.25), past("e", "t3.small", relevance=0.0)]
    assert retrieval.lesson_weights(weak) == pytest.approx([0.75, retrieval.RETRIEVED])
    # An older service without components: its score as it is.
    assert retrieval.lesson_weights([past("f", "t3.small", relevance=None, score=0.2)]) == pytest.approx([0.2])


def test_an_out_of_memory_failure_at_relevance_0_still_sets_a_floor():
    # Asked for relevance alone, the service's score is that relevance: 0 as well.
    failure = past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small",
                   relevance=0.0, score=0.0)
    other = past("other", "t3.large", relevance=0.6)
    other.record.analysis.applications[0].framework = "django"  # same language, another framework
    evidence = retrieval.assess([other, failure], APP, CAT, rps=5)
    assert evidence.memory_floor_gb == {S.STRATEGY_VM: 2.0}


# --- the working-set scale -----------------------------------------------------------------------


def test_the_knowledge_base_expects_the_profile_at_the_load():
    flask = common_pb2.Application(framework="flask", language="python")
    assert decide.expected_working_set_mb(flask, common_pb2.Requirements(expected_users=500)) == 512  # light: x1
    assert decide.expected_working_set_mb(flask, common_pb2.Requirements(expected_users=5000)) == 1024  # moderate: x2
    flask.traits.add(kind=common_pb2.TRAIT_KIND_BACKGROUND_WORKER)
    assert decide.expected_working_set_mb(flask, common_pb2.Requirements(expected_users=500)) == 768  # + a worker
    assert decide.expected_working_set_mb(flask, common_pb2.Requirements(memory_mb=3000)) == 3000  # asked for
    assert decide.vm_holds_mb(2) == pytest.approx((2048 - decide.VM_OS_MB) / decide.VM_HEADROOM)


def test_observed_scale_of_a_success_is_exact_and_of_an_out_of_memory_failure_a_lower_bound():
    success = past("s", "t3.medium", utilisation=0.25).record  # 1024 MB used, 512 expected
    assert retrieval.observed_scale(success, 4, 512, decide.vm_holds_mb) == (pytest.approx(2.0), True)
    oom = past("f", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small").record
    scale, exact = retrieval.observed_scale(oom, 2, 512, decide.vm_holds_mb)
    assert not exact and scale == pytest.approx(decide.vm_holds_mb(2) / 512)
    # With metrics, what the failure really used: more than the instance's rule says...
    oom.metrics.memory_utilization = 0.9
    assert retrieval.observed_scale(oom, 2, 512, decide.vm_holds_mb)[0] == pytest.approx(0.9 * 2048 / 512)
    # ...or less: it died under what the rule says a 2 GB VM holds. That is a lesson about how
    # full instances may run (`vm_utilisation_limit`), not a larger working set as well.
    oom.metrics.memory_utilization = 0.4
    assert retrieval.observed_scale(oom, 2, 512, decide.vm_holds_mb)[0] == pytest.approx(0.4 * 2048 / 512)
    # Nothing to say: no metrics on a success, another failure, no expectation.
    assert retrieval.observed_scale(past("n", "t3.small").record, 2, 512, decide.vm_holds_mb) == (0.0, False)
    crash = past("c", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="crash loop").record
    assert retrieval.observed_scale(crash, 2, 512, decide.vm_holds_mb) == (0.0, False)
    assert retrieval.observed_scale(success, 4, 0, decide.vm_holds_mb) == (0.0, False)


def test_a_memory_floor_transfers_from_apps_expected_to_need_no_more():
    # A neighbour that ran out of memory on a t3.small at 50 requests/s (expected 1 GB) says a
    # t3.small is too small for this app at 50 requests/s, not at 5 (expected 512 MB): there its
    # working-set scale speaks, which accounts for the load.
    heavier = past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small",
                   users=5000, utilisation=0.8)
    same_load = retrieval.assess([heavier], APP, CAT, rps=50, model=decide.WORKING_SET_MODEL)
    assert same_load.memory_floor_gb == {S.STRATEGY_VM: 2.0}
    lighter = retrieval.assess([heavier], APP, CAT, rps=5, model=decide.WORKING_SET_MODEL)
    assert S.STRATEGY_VM not in lighter.memory_floor_gb
    assert lighter.memory_scale == pytest.approx(0.8 * 2048 / 1024)
    # A worker beside the web process is more memory expected, too.
    worker = past("w", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small", utilisation=0.55)
    worker.record.analysis.applications[0].traits.add(kind=common_pb2.TRAIT_KIND_BACKGROUND_WORKER)
    assert S.STRATEGY_VM not in retrieval.assess([worker], APP, CAT, rps=5, model=decide.WORKING_SET_MODEL).memory_floor_gb
    # Without the working-set model (no expectation to compare), every failure is a floor.
    assert retrieval.assess([heavier], APP, CAT, rps=5).memory_floor_gb == {S.STRATEGY_VM: 2.0}


def test_memory_scale_needs_agreement_and_is_bounded():
    heavy = [past(f"h{i}", "t3.large") for i in range(2)]
    light = [past(f"l{i}", "t3.small") for i in range(3)]
    # One close neighbour that used 2.5x the profile: enough.
    assert retrieval.memory_scale([(heavy[0], 0.6, 2.5, True)]) == (pytest.approx(2.5), [heavy[0]])
    # Too little weight: nothing.
    assert retrieval.memory_scale([(heavy[0], 0.2, 2.5, True)])[0] == 1.0
    # Well-rated successes observed clearly below it contradict...
    contradicted = [(heavy[0], 0.6, 2.5, True), *[(r, 0.5, 1.0, True) for r in light]]
    assert retrieval.memory_scale(contradicted)[0] == 1.0
    # ...but not lower bounds: failures showing only "at least" contradict nothing.
    bounds = [(heavy[0], 0.6, 2.5, True), *[(r, 0.5, 1.0, False) for r in light]]
    assert retrieval.memory_scale(bounds)[0] == pytest.approx(2.5)
    # The largest scale the evidence agrees on; noise under MIN_MEMORY_SCALE is not a lesson.
    # Evidence as strong for a larger scale as against it: the larger (an out-of-memory failure is
    # an outage, one size up is money)...
    both = [(heavy[0], 0.6, 2.5, True), (heavy[1], 0.6, 1.8, True)]
    assert retrieval.memory_scale(both) == (pytest.approx(2.5), [heavy[0]])
    # ...stronger against it: the scale both show.
    outweighed = [(heavy[0], 0.6, 2.5, True), (heavy[1], 0.7, 1.8, True)]
    assert retrieval.memory_scale(outweighed) == (pytest.approx(1.8), heavy)
    assert retrieval.memory_scale([(heavy[0], 0.9, 1.1, True)])[0] == 1.0
    assert retrieval.memory_scale([(heavy[0], 0.9, 40.0, True)])[0] == retrieval.MAX_MEMORY_SCALE


def test_observed_memory_of_similar_apps_sizes_the_plan_at_once_at_another_load():
    before = plan_for(MODERATE)
    # Flask at 50 requests/s: 1024 MB x 1.5 + 512 -> t3.small (2 GB).
    assert before.configuration.vm.instance_type == "t3.small"
    # A similar app at a light load used 1280 MB of a t3.medium where the profile says 512: 2.5x.
    # A floor from it would say nothing (it succeeded); the scale transfers to this load: 2560 MB.
    used = past("used", "t3.medium", utilisation=0.3125, relevance=0.6)
    evidence = retrieval.assess([used], APP, CAT, rps=50, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_scale == pytest.approx(2.5)
    after = plan_for(MODERATE, retrieved=[used])
    # 2560 MB x 1.5 + 512 = 4352 MB: two sizes up at once, past t3.medium.
    assert after.configuration.vm.instance_type == "t3.large"
    cited = [c for c in after.citations if c.record_id == "used"]
    assert cited and cited[0].influence == "t3.small -> t3.large"
    assert "observed memory" in after.reason


def test_an_out_of_memory_failure_under_a_lighter_load_sizes_for_this_load():
    # A similar app ran out of memory on a t3.small at 5 requests/s: it needs more than a t3.small
    # holds (1024 MB) where 512 was expected, at least 2x. At 200 requests/s (x4: 2048 MB expected)
    # that is 4096 MB x 1.5 + 512: a t3.large, where a floor alone (above 2 GB) keeps the t3.medium
    # the knowledge base plans for this load.
    heavy = "an internal reporting API on VMs for about 20000 users"
    assert plan_for(heavy).configuration.vm.instance_type == "t3.medium"
    failure = past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small")
    evidence = retrieval.assess([failure], APP, CAT, rps=200, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_floor_gb == {S.STRATEGY_VM: 2.0} and evidence.memory_scale == pytest.approx(2.0)
    assert plan_for(heavy, retrieved=[failure]).configuration.vm.instance_type == "t3.large"


def test_ordinary_apps_observed_at_the_profile_change_nothing():
    fine = [past(f"ok{i}", "t3.small", utilisation=0.25) for i in range(3)]  # 512 MB of 2 GB: as expected
    evidence = retrieval.assess(fine, APP, CAT, rps=5, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_scale == 1.0 and not evidence.scale_records
    assert plan_for(retrieved=fine).configuration.vm.instance_type == plan_for().configuration.vm.instance_type


def test_kin_successes_alone_contradict_a_scale_when_kin_exist():
    # Two apps with this app's unusual library used 2.5x the profile; the framework's ordinary apps
    # (without it) used what the profile says. They do not show that this toolbox needs no more.
    def with_deps(result, *deps):
        for name in deps:
            result.record.analysis.applications[0].dependencies.add(name=name, ecosystem="pypi")
        return result
    kin = [with_deps(past(f"k{i}", "t3.large", utilisation=0.15625), "flask", "pandas") for i in range(2)]  # 1280 MB
    ordinary = [with_deps(past(f"o{i}", "t3.small", utilisation=0.25), "flask", f"lib{i}") for i in range(8)]
    app = common_pb2.Application(framework="flask", language="python")
    for name in ("flask", "pandas"):
        app.dependencies.add(name=name, ecosystem="pypi")
    evidence = retrieval.assess([*kin, *ordinary], app, CAT, rps=5, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_scale == pytest.approx(2.5)
    assert {r.record.id for r, _note in evidence.scale_records} == {"k0", "k1"}
    # The same ordinary apps do contradict it for an app without the unusual library.
    plain = common_pb2.Application(framework="flask", language="python")
    plain.dependencies.add(name="flask", ecosystem="pypi")
    plain_kin = [with_deps(past(f"k{i}", "t3.large", utilisation=0.15625), "flask", "celery") for i in range(2)]
    evidence = retrieval.assess([*plain_kin, *ordinary], plain, CAT, rps=5, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_scale == 1.0


# --- how full an instance may be -----------------------------------------------------------------


def test_the_utilisation_limit_is_just_under_the_lowest_out_of_memory_failure():
    oom = [(past(f"f{i}", "t3.large", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled"), u)
           for i, u in enumerate((0.7, 0.55, 0.62))]
    # A margin under the lowest failure (successes ran less full: they do not lower it).
    assert retrieval.vm_utilisation_limit(oom, [0.3, 0.48, 0.6]) == (pytest.approx(0.55 * retrieval.UTILISATION_MARGIN),
                                                                    [oom[1][0], oom[2][0], oom[0][0]])
    # A success that ran fuller, still under the failure, shows the instances hold that much.
    assert retrieval.vm_utilisation_limit(oom, [0.3, 0.53])[0] == pytest.approx(0.53)
    assert retrieval.vm_utilisation_limit([], [0.3]) == (0.0, [])


def test_instances_that_ran_out_of_memory_half_full_keep_the_next_plan_under_that():
    # Flask at 200 requests/s: 2048 MB; the headroom rule says 2048 x 1.5 + 512 = 3584 MB, a
    # t3.medium (4 GB, 50% full at peak). Instances of the language died at 50% and ran fine at
    # 45%, so 2048 MB must stay under 45%: 4551 MB, a t3.large.
    heavy = "an internal reporting API on VMs for about 20000 users"
    assert plan_for(heavy).configuration.vm.instance_type == "t3.medium"
    died = past("died", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small", utilisation=0.5)
    died.record.analysis.applications[0].framework = "django"  # 1024 MB where 1024 was expected: no scale
    fine = past("fine", "t3.medium", utilisation=0.45, users=20000, relevance=0.0)
    evidence = retrieval.assess([died, fine], APP, CAT, rps=200, model=decide.WORKING_SET_MODEL)
    assert evidence.vm_max_utilisation == pytest.approx(0.45)
    after = plan_for(heavy, retrieved=[died, fine])
    assert after.configuration.vm.instance_type == "t3.large"
    # The floor alone (above 2 GB) would keep the t3.medium.
    assert evidence.memory_scale == 1.0 and evidence.memory_floor_gb == {S.STRATEGY_VM: 2.0}
    assert any(c.record_id == "died" and c.influence == "t3.medium -> t3.large" for c in after.citations)
    assert "at most 45% of the instance" in after.reason


def test_only_the_same_framework_contradicts_a_scale():
    # A FastAPI app ran out of memory on a t3.medium where its profile expected 512 MB: at least
    # 2389 MB (what a t3.medium holds), 4.7x. Django apps with the same library ran at 1.2x
    # Django's profile: how far off Django's profile is says nothing about FastAPI's.
    oom = past("oom", "t3.medium", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.medium", users=5000)
    oom.record.analysis.applications[0].framework = "fastapi"
    django = [past(f"dj{i}", "t3.medium", utilisation=0.3, relevance=0.6) for i in range(3)]  # 1229 MB of 1024 expected
    for result in django:
        result.record.analysis.applications[0].framework = "django"
    fastapi = common_pb2.Application(framework="fastapi", language="python")
    evidence = retrieval.assess([oom, *django], fastapi, CAT, rps=50, model=decide.WORKING_SET_MODEL)
    assert evidence.memory_scale == pytest.approx(retrieval.MAX_MEMORY_SCALE)
    # FastAPI apps observed well below it do contradict it (410 MB of 256 expected at a light load:
    # 1.6x); the scale falls to what they all agree on.
    for result in django:
        result.record.analysis.applications[0].framework = "fastapi"
        result.record.metrics.memory_utilization = 0.1
    assert retrieval.assess([oom, *django], fastapi, CAT, rps=50, model=decide.WORKING_SET_MODEL).memory_scale < 2
