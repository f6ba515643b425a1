"""Learning from users' votes and from apps with the same toolbox.

- Downvotes whose structured reason says "over-provisioned" set a memory ceiling: the next similar
  plan steps down one size, cited; upvoted ("right-sized") similar plans at that size keep it.
- A size downvote is not a vote against the strategy.
- Neighbours sharing the app's uncommon libraries weigh more than those sharing only the framework,
  so a lesson of apps with the same toolbox is not outvoted by the framework's ordinary apps.
"""

from __future__ import annotations

from scia.planner import retrieval
from scia.planner.analysis import RepoFiles, analyze_files
from scia.planner.decide import make_plan
from scia.planner.intent import understand
from scia.planner.pricing import bundled_catalogue
from scia.v1 import common_pb2, planner_pb2, rag_pb2

S = common_pb2.Strategy
CAT = bundled_catalogue()
PROMPT = "an internal reporting API on a VM for about 500 users"  # 5 requests/s: light load
FLASK = {"requirements.txt": "flask==3.0.0\ngunicorn\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}
OVER = "over-provisioned: peak memory 11% of t3.medium"


def plan_for(files: dict = FLASK, prompt: str = PROMPT, retrieved=None) -> common_pb2.Plan:
    analysis = analyze_files(RepoFiles.from_dict(files))
    return make_plan(analysis, common_pb2.DeploymentIntent(prompt=prompt), understand(prompt),
                     planner_pb2.CloudConstraints(), CAT, retrieved)


def past(record_id: str, instance: str, *, outcome: int = common_pb2.OUTCOME_SUCCESS, votes: tuple[tuple[int, str], ...] = (),
         score: float = 0.8, reason: str = "", strategy: int = S.STRATEGY_VM, deps: tuple[str, ...] = ("flask", "gunicorn"),
         framework: str = "flask", instances: int = 1) -> rag_pb2.RetrievedDeployment:
    config = common_pb2.Configuration(cloud=common_pb2.CLOUD_AWS, region="eu-west-3")
    if strategy == S.STRATEGY_VM:
        config.vm.instance_type = instance
        config.vm.instance_count = config.vm.min_count = config.vm.max_count = instances
    else:
        config.kubernetes.node_type = instance
        config.kubernetes.desired_nodes = config.kubernetes.min_nodes = config.kubernetes.max_nodes = 2
        config.kubernetes.replicas = instances
    app = common_pb2.Application(framework=framework, language="python")
    for name in deps:
        app.dependencies.add(name=name, ecosystem="pypi")
    feedback = common_pb2.FeedbackSummary(up=sum(1 for v, _c in votes if v > 0), down=sum(1 for v, _c in votes if v < 0))
    for number, (vote, comment) in enumerate(votes):
        feedback.votes.add(user=f"dev-{number}", vote=vote, comment=comment)
    record = common_pb2.DeploymentRecord(
        id=record_id, tenant="team-a", name=f"app-{record_id}", revision=1, outcome=outcome, outcome_reason=reason,
        analysis=common_pb2.RepositoryAnalysis(applications=[app]),
        plan=common_pb2.Plan(strategy=strategy, configuration=config,
                             requirements=common_pb2.Requirements(expected_users=500)),
        feedback=feedback)
    return rag_pb2.RetrievedDeployment(record=record, score=score)


def test_vote_reasons_are_read_from_structured_comments():
    record = past("a", "t3.medium", votes=((-1, OVER), (-1, "OOMKilled on t3.small; over budget: $90/month for a $50 budget"),
                                           (1, "right-sized: peak memory 40% of t3.small"))).record
    assert retrieval.vote_reasons(record) == [(-1, OVER), (-1, "OOMKilled on t3.small"), (-1, "over budget: $90/month for a $50 budget"),
                                              (1, "right-sized: peak memory 40% of t3.small")]
    # Only the first downvote is purely about the size; the second names a worse problem.
    assert retrieval.over_provisioned_votes(record) == 1


def test_over_provisioned_votes_size_the_next_similar_plan_down_one_class_and_are_cited():
    before = plan_for(prompt=PROMPT + ", 1.5 GB of RAM")  # the request's memory puts the knowledge base on t3.medium
    assert before.configuration.vm.instance_type == "t3.medium"
    too_big = [past(f"big{i}", "t3.medium", votes=((-1, OVER),)) for i in range(2)]
    evidence = retrieval.assess(too_big, common_pb2.Application(framework="flask", language="python"), CAT)
    assert evidence.memory_ceiling_gb == {S.STRATEGY_VM: 4.0}
    after = plan_for(prompt=PROMPT + ", 1.5 GB of RAM", retrieved=too_big)
    assert after.configuration.vm.instance_type == "t3.small"
    cited = [c for c in after.citations if c.record_id in {"big0", "big1"}]
    assert cited and all(c.influence == "t3.medium -> t3.small (voted over-provisioned)" for c in cited)
    assert "voted down: over-provisioned: peak memory 11% of t3.medium" in cited[0].summary
    assert "t3.small instead of t3.medium (over-provisioned)" in after.reason
    assert after.cost.monthly_total_usd < before.cost.monthly_total_usd


def test_upvoted_right_sized_plans_at_that_size_keep_it():
    too_big = [past("big", "t3.medium", votes=((-1, OVER),))]
    right = [past(f"ok{i}", "t3.medium", votes=((1, "right-sized: peak memory 45% of t3.medium"),)) for i in range(2)]
    evidence = retrieval.assess(too_big + right, common_pb2.Application(framework="flask", language="python"), CAT)
    assert S.STRATEGY_VM not in evidence.memory_ceiling_gb
    assert plan_for(prompt=PROMPT + ", 1.5 GB of RAM", retrieved=too_big + right).configuration.vm.instance_type == "t3.medium"


def test_never_below_what_ran_out_of_memory_nor_below_the_process():
    too_big = [past(f"big{i}", "t3.small", votes=((-1, "over-provisioned: peak memory 20% of t3.small"),)) for i in range(3)]
    oom = [past(f"oom{i}", "t3.micro", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.micro") for i in range(2)]
    evidence = retrieval.assess(too_big + oom, common_pb2.Application(framework="flask", language="python"), CAT)
    assert evidence.memory_floor_gb[S.STRATEGY_VM] == 1.0 and evidence.memory_ceiling_gb[S.STRATEGY_VM] == 2.0
    # t3.micro ran out of memory: t3.small is as low as it goes, whatever the votes say.
    assert plan_for(retrieved=too_big + oom).configuration.vm.instance_type == "t3.small"
    # Django's 1024 MB peak + the OS do not fit 1 GB: the ceiling cannot push it onto a t3.micro.
    django = {"requirements.txt": "django\ngunicorn\n", "manage.py": "import django\n"}
    plan = plan_for(django, PROMPT, retrieved=[past(f"big{i}", "t3.small", framework="django", deps=("django", "gunicorn"),
                                                    votes=((-1, "over-provisioned: peak memory 20% of t3.small"),)) for i in range(3)])
    assert plan.configuration.vm.instance_type == "t3.small"


def test_kubernetes_nodes_stay_at_the_four_gigabyte_minimum():
    too_big = [past(f"k{i}", "t3.medium", strategy=S.STRATEGY_KUBERNETES, votes=((-1, "over-provisioned: peak memory 10% of t3.medium"),))
               for i in range(3)]
    plan = plan_for(prompt="on kubernetes, about 500 users", retrieved=too_big)
    assert plan.configuration.kubernetes.node_type == "t3.medium"


def test_a_size_downvote_is_not_a_vote_against_the_strategy():
    app = common_pb2.Application(framework="flask", language="python")
    over = retrieval.assess([past("o", "t3.medium", votes=((-1, OVER),))], app, CAT)
    plain = retrieval.assess([past("p", "t3.medium")], app, CAT)
    assert over.strategy_delta[S.STRATEGY_VM][0] == plain.strategy_delta[S.STRATEGY_VM][0] > 0
    failed = retrieval.assess([past("f", "t3.medium", votes=((-1, "p99 latency over target"),))], app, CAT)
    assert failed.strategy_delta[S.STRATEGY_VM][0] < 0  # a disliked success still counts against


SATURATED = "single instance saturated: 5xx during peak traffic on 1 x t3.small"


def test_neighbours_sharing_uncommon_libraries_outweigh_the_frameworks_ordinary_apps():
    """Two apps with the payment SDK failed on one instance; five ordinary Flask apps coped on one.
    For an app with the SDK the lesson holds; for an ordinary app it does not."""
    kin = [past(f"pay{i}", "t3.small", outcome=common_pb2.OUTCOME_DEGRADED, reason=SATURATED, score=0.7,
                deps=("flask", "gunicorn", "stripe", "sqlalchemy")) for i in range(2)]
    ordinary = [past(f"std{i}", "t3.small", votes=((1, "right-sized: peak memory 40% of t3.small"),), score=0.8,
                     deps=("flask", "gunicorn", "sqlalchemy")) for i in range(5)]
    with_sdk = common_pb2.Application(framework="flask", language="python")
    for name in ("flask", "gunicorn", "stripe", "redis"):
        with_sdk.dependencies.add(name=name)
    factors = retrieval.kinship(kin + ordinary, with_sdk)
    assert factors["pay0"] > 1 > factors["std0"]
    assert "high_availability" in retrieval.assess(kin + ordinary, with_sdk, CAT, rps=5).needs
    plain = common_pb2.Application(framework="flask", language="python")
    for name in ("flask", "gunicorn", "redis"):
        plain.dependencies.add(name=name)
    assert not retrieval.assess(kin + ordinary, plain, CAT, rps=5).needs
    # Without kinship (plain framework weighting) the ordinary apps outvote the lesson.
    assert retrieval.kinship(kin + ordinary, common_pb2.Application(framework="flask")) == {}


def test_kinship_needs_enough_neighbours_to_tell_rare_from_common():
    app = common_pb2.Application(framework="flask", language="python")
    app.dependencies.add(name="stripe")
    assert retrieval.kinship([past("a", "t3.small"), past("b", "t3.small")], app) == {}


def test_a_learned_requirement_that_worked_is_passed_on():
    app = common_pb2.Application(framework="flask", language="python")
    taught = past("taught", "t3.small", instances=2, votes=((1, "right-sized: peak memory 40% of t3.small"),))
    taught.record.plan.citations.add(record_id="older", influence="requirement learned: two or more instances (high availability)")
    assert set(retrieval.assess([taught], app, CAT, rps=5).needs) == {"high_availability"}
    # Without the learned requirement in its plan, a success on two instances teaches nothing.
    plain = past("plain", "t3.small", instances=2, votes=((1, "right-sized: peak memory 40% of t3.small"),))
    assert not retrieval.assess([plain], app, CAT, rps=5).needs
    # A disliked one does not pass it on.
    disliked = past("bad", "t3.small", instances=2, votes=((-1, "p99 latency over target"),))
    disliked.record.plan.citations.add(record_id="older", influence="requirement learned: two or more instances (high availability)")
    assert not retrieval.assess([disliked], app, CAT, rps=5).needs


def test_lessons_are_weighed_by_similarity_not_by_how_well_they_went():
    """The RAG score also rewards successes and upvotes; a failure's lesson must not be discounted
    for being a failure: the relevance component is the similarity when it is sent."""
    app = common_pb2.Application(framework="flask", language="python")
    oom = past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small", score=0.3)
    assert retrieval.similarity(oom) == 0.3
    assert not retrieval.assess([oom], app, CAT).memory_floor_gb  # 0.3 < threshold
    oom.components.relevance = 0.8  # very similar, ranked low by the blended score
    assert retrieval.similarity(oom) == 0.8
    assert retrieval.assess([oom], app, CAT).memory_floor_gb == {S.STRATEGY_VM: 2.0}


def test_retrieval_asks_for_relevance_alone_from_a_wide_pool_of_the_same_language():
    # The RAG service's default blend rewards successes, upvotes, recency and cheap plans: with it,
    # a language's many well-rated ordinary deployments fill the top results and push out the
    # failures of similar apps, which are what the planner learns from.
    analysis = common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(framework="flask", language="python")])
    request = retrieval.retrieve_request("team-a", analysis, common_pb2.DeploymentIntent(prompt="x"), limit=16)
    weights = request.weights
    assert weights.relevance == 1.0
    assert weights.feedback == weights.recency == weights.cost_efficiency == weights.outcome == 0.0
    assert request.candidates >= 4 * request.limit == 64
    assert list(request.filter.languages) == ["python"] and not request.filter.frameworks
    assert retrieval.retrieve_request("t", analysis, common_pb2.DeploymentIntent(), limit=50).candidates == 200


def _at(result: rag_pb2.RetrievedDeployment, users: int) -> rag_pb2.RetrievedDeployment:
    result.record.plan.requirements.expected_users = users  # users x 1% x 1 request/s at peak
    return result


def test_size_lessons_from_a_lighter_load_do_not_size_a_heavier_one():
    # Memory per instance grows with the load tier. Two upvoted apps that ran on t3.small at
    # 5 requests/s do not contradict one that ran out of memory there at 60 requests/s, for a plan
    # at 60; they do for a plan at 5 (and an out-of-memory failure at a lighter load applies a
    # fortiori to a heavier one).
    light_ok = [_at(past(f"ok{i}", "t3.small", votes=((1, "right-sized: peak memory 40% of t3.small"),)), 500) for i in range(2)]
    heavy_oom = _at(past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small"), 6000)
    app = common_pb2.Application(framework="flask", language="python")
    assert retrieval.assess([*light_ok, heavy_oom], app, CAT, rps=60).memory_floor_gb.get(S.STRATEGY_VM) == 2.0
    assert S.STRATEGY_VM not in retrieval.assess([*light_ok, heavy_oom], app, CAT, rps=5).memory_floor_gb
    light_oom = _at(past("oom-light", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small"), 500)
    assert retrieval.assess([light_oom], app, CAT, rps=60).memory_floor_gb.get(S.STRATEGY_VM) == 2.0
    # Over-provisioned votes and pulls toward a size transfer down the tiers, not up.
    too_big = [_at(past(f"big{i}", "t3.medium", votes=((-1, OVER),)), 500) for i in range(2)]
    assert S.STRATEGY_VM in retrieval.assess(too_big, app, CAT, rps=5).memory_ceiling_gb
    assert S.STRATEGY_VM not in retrieval.assess(too_big, app, CAT, rps=60).memory_ceiling_gb
    micro = [_at(past(f"m{i}", "t3.micro", votes=((1, "right-sized: peak memory 45% of t3.micro"),)), 500) for i in range(2)]
    assert S.STRATEGY_VM in retrieval.assess(micro, app, CAT, rps=5).pull
    assert S.STRATEGY_VM not in retrieval.assess(micro, app, CAT, rps=60).pull


def test_within_a_load_tier_size_lessons_are_discounted_by_the_load_ratio():
    # 50 users (1 request/s) and 1000 users (10 requests/s) are both a light load, but 10x apart:
    # an upvoted app at 1 request/s on t3.small contradicts half as much as one at 6 (within 3x),
    # not enough to cancel an out-of-memory failure there at 10.
    oom = _at(past("oom", "t3.small", outcome=common_pb2.OUTCOME_FAILED, reason="OOMKilled on t3.small"), 1000)
    app = common_pb2.Application(framework="flask", language="python")
    far = [_at(past(f"far{i}", "t3.small", votes=((1, "right-sized: peak memory 40% of t3.small"),)), 50) for i in range(1)]
    near = [_at(past(f"near{i}", "t3.small", votes=((1, "right-sized: peak memory 40% of t3.small"),)), 600) for i in range(1)]
    assert retrieval.assess([*far, oom], app, CAT, rps=10).memory_floor_gb.get(S.STRATEGY_VM) == 2.0
    assert S.STRATEGY_VM not in retrieval.assess([*near, oom], app, CAT, rps=10).memory_floor_gb

