"""The planner benchmark's harness without the services: scoring, outcomes, the protocol's calls,
the curve and the report. Fast on purpose, so the harness cannot silently break."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from scia.planner import decide
from scia.planner.intent import understand
from scia.planner.pricing import bundled_catalogue
from scia.rag.validation import deployment_record
from scia.v1 import common_pb2, planner_pb2, rag_pb2

from bench import planner as bench
from bench import scenarios
from bench.scenarios import SIZES, PlanChoice, ScenarioGenerator

CATALOGUE = bundled_catalogue()


def test_size_classes_follow_memory_and_extend_the_oracles_ladder():
    assert bench.size_class(1.0) == bench.BELOW
    assert [bench.size_class(gb) for gb in (2, 4, 8, 16)] == list(SIZES)
    assert bench.size_class(6.0) == "medium"  # holds what medium holds, not large
    assert bench.size_class(32.0) == bench.ABOVE


def test_oracle_plans_score_correct_and_succeed():
    for scenario in ScenarioGenerator(seed=11).scenarios(40):
        expected = scenarios.oracle(scenario)
        decision = bench.decision_of(scenarios.plan_message(scenario, expected), CATALOGUE)
        assert (decision.strategy, decision.size) == (expected.strategy, expected.size)
        assert bench.is_correct(scenario, decision)
        result, stand_in = bench.outcome_of(scenario, decision)
        assert result.outcome == common_pb2.OUTCOME_SUCCESS, scenarios.describe(scenario)
        assert stand_in.size == expected.size


def _micro_plan(scenario):
    plan = scenarios.plan_message(scenario, scenarios.oracle(scenario))
    plan.configuration.vm.instance_type = "t3.micro"  # 1 GiB: not one of the generator's four types
    return plan


def test_a_micro_instance_is_judged_on_its_real_memory():
    candidates = [s for s in ScenarioGenerator(seed=12).scenarios(400)
                  if scenarios.oracle(s).strategy == common_pb2.STRATEGY_VM and s.intent.cloud == common_pb2.CLOUD_AWS]
    light = next(s for s in candidates if scenarios.memory_need_mb(s.app, s.intent.traffic, s.family) <= 512)
    heavy = next(s for s in candidates if scenarios.memory_need_mb(s.app, s.intent.traffic, s.family) > 512)
    for scenario in (light, heavy):
        plan = _micro_plan(scenario)
        # choice_of alone would call an unknown type "medium"; the harness classifies it by memory.
        assert scenarios.choice_of(plan).size == "medium"
        decision = bench.decision_of(plan, CATALOGUE)
        assert decision.size == bench.BELOW and decision.memory_mb == 1024
        assert not bench.is_correct(scenario, decision)  # strict: never the oracle's class
    # A working set within half of 1 GiB runs (and is the cheapest size: a thumbs up, if nothing else is wrong).
    result, _ = bench.outcome_of(light, bench.decision_of(_micro_plan(light), CATALOGUE))
    assert result.outcome == common_pb2.OUTCOME_SUCCESS and result.memory_utilization <= 0.5
    # A bigger one is killed, and the reason names the instance really used.
    result, _ = bench.outcome_of(heavy, bench.decision_of(_micro_plan(heavy), CATALOGUE))
    assert result.outcome == common_pb2.OUTCOME_FAILED and result.reason == "OOMKilled on t3.micro"
    verdict = bench.verdict_of(heavy, bench.decision_of(_micro_plan(heavy), CATALOGUE), result)
    assert verdict.vote == -1 and verdict.comment == "OOMKilled on t3.micro"


def test_the_budget_verdict_bills_what_the_plan_keeps_running_on_the_type_it_runs():
    # An autoscaling group of one 1 GiB instance costs one micro instance and its load balancer
    # in the world's prices, not two of the ladder's smallest type; its peak is its maximum.
    scenario = next(s for s in ScenarioGenerator(seed=21).scenarios(400)
                    if s.intent.cloud == common_pb2.CLOUD_AWS and s.intent.traffic == "low" and s.family == "standard"
                    and scenarios.memory_need_mb(s.app, "low") <= 512 and not s.intent.high_availability)
    plan = scenarios.plan_message(scenario, PlanChoice(common_pb2.STRATEGY_VM, "small", 1, True))
    vm = plan.configuration.vm
    vm.instance_type, vm.instance_count, vm.min_count, vm.max_count = "t3.micro", 1, 1, 3
    decision = bench.decision_of(plan, CATALOGUE)
    assert (decision.billed, decision.peak, decision.vcpus) == (1, 3, 2.0)
    billed, items = scenarios.monthly_cost(scenario, bench.stand_in_of(decision), instances=1,
                                           instance=scenarios.MICRO_INSTANCES[common_pb2.CLOUD_AWS])
    assert items[0].description == "1 x t3.micro x 730 h" and any(i.name == "load balancer" for i in items)
    assert billed < scenarios.monthly_cost(scenario, bench.stand_in_of(decision))[0]


def test_outcomes_on_the_oracles_ladder_are_the_worlds_own():
    for scenario in ScenarioGenerator(seed=13).scenarios(60):
        for size in SIZES:
            choice = PlanChoice(common_pb2.STRATEGY_VM, size)
            decision = bench.decision_of(scenarios.plan_message(scenario, choice), CATALOGUE)
            result, _ = bench.outcome_of(scenario, decision)
            assert result == scenarios.simulate(scenario, choice)


def test_an_above_xlarge_plan_succeeds_with_lower_utilisation_and_its_own_name():
    scenario = ScenarioGenerator(seed=14).scenarios(1)[0]
    choice = PlanChoice(common_pb2.STRATEGY_VM, "xlarge")
    plan = scenarios.plan_message(scenario, choice)
    on_xlarge, _ = bench.outcome_of(scenario, bench.decision_of(plan, CATALOGUE))
    plan.configuration.vm.instance_type = CATALOGUE.ladder(scenario.intent.cloud)[-1]
    decision = bench.decision_of(plan, CATALOGUE)
    assert decision.size == bench.ABOVE
    result, stand_in = bench.outcome_of(scenario, decision)
    assert result.outcome == on_xlarge.outcome
    assert result.memory_utilization == pytest.approx(on_xlarge.memory_utilization / 2, abs=0.011)
    assert stand_in.size == "xlarge"
    # 32 GB for an app the oracle runs on 2-16 GB: over-provisioned, voted down with the measure.
    verdict = bench.verdict_of(scenario, decision, result)
    assert verdict.vote == -1
    assert any(r.startswith("over-provisioned: peak memory ") and r.endswith(f" of {decision.where}") for r in verdict.reasons)


def test_thumbs_up_accepts_valid_plans_other_than_the_oracles():
    """One size above the smallest that works, and two VMs for high availability, are right for
    the users (thumbs up) though strictly not the oracle's; two sizes above is not."""
    generator = ScenarioGenerator(seed=19)
    ha = next(s for s in generator.scenarios(400) if s.intent.high_availability and not s.intent.autoscaling
              and s.intent.traffic != "high" and s.family == "standard" and not s.intent.budget)
    expected = scenarios.oracle(ha)
    assert expected.strategy == common_pb2.STRATEGY_VM and expected.instances == 2
    k8s = PlanChoice(common_pb2.STRATEGY_KUBERNETES, "medium" if expected.size == "small" else expected.size, 2)
    decision = bench.decision_of(scenarios.plan_message(ha, k8s), CATALOGUE)
    result, _ = bench.outcome_of(ha, decision)
    assert result.outcome == common_pb2.OUTCOME_SUCCESS
    assert bench.verdict_of(ha, decision, result).up and not bench.is_correct(ha, decision)
    one = PlanChoice(common_pb2.STRATEGY_VM, expected.size, 1)
    decision = bench.decision_of(scenarios.plan_message(ha, one), CATALOGUE)
    result, _ = bench.outcome_of(ha, decision)
    verdict = bench.verdict_of(ha, decision, result)
    assert not verdict.up  # HA was asked: one instance is voted down even when it copes
    plain = next(s for s in generator.scenarios(400) if scenarios.oracle(s) == PlanChoice(common_pb2.STRATEGY_VM, "small")
                 and not s.intent.budget and scenarios.smallest_fit_mb(s, common_pb2.STRATEGY_VM) == 2048)
    for size, up in (("small", True), ("medium", True), ("large", False)):
        decision = bench.decision_of(scenarios.plan_message(plain, PlanChoice(common_pb2.STRATEGY_VM, size)), CATALOGUE)
        result, _ = bench.outcome_of(plain, decision)
        assert bench.verdict_of(plain, decision, result).up is up, size


def test_a_plan_in_another_region_is_voted_down():
    scenario = ScenarioGenerator(seed=20).scenarios(1)[0]
    plan = scenarios.plan_message(scenario, scenarios.oracle(scenario))
    plan.configuration.region = "somewhere-else-1"
    decision = bench.decision_of(plan, CATALOGUE)
    result, _ = bench.outcome_of(scenario, decision)
    verdict = bench.verdict_of(scenario, decision, result)
    assert verdict.vote == -1 and verdict.comment.startswith("wrong region: somewhere-else-1")


def test_real_planner_plans_are_classified():
    """The planner's own (no-memory) plans, in-process: every one maps to a class and an outcome."""
    for scenario in ScenarioGenerator(seed=15).scenarios(15):
        plan = decide.make_plan(scenario.analysis(), scenario.deployment_intent(), understand(scenario.intent.prompt),
                                planner_pb2.CloudConstraints(), CATALOGUE, None)
        decision = bench.decision_of(plan, CATALOGUE)
        assert decision.size in bench.CLASS_LADDER
        result, _ = bench.outcome_of(scenario, decision)
        assert result.outcome in (common_pb2.OUTCOME_SUCCESS, common_pb2.OUTCOME_FAILED, common_pb2.OUTCOME_DEGRADED)
        assert bool(result.reason) == (result.outcome != common_pb2.OUTCOME_SUCCESS)


def _step(index: int, correct: bool, family: str = "standard", outcome: str = "success", up: bool | None = None) -> bench.Step:
    up = correct if up is None else up
    return bench.Step(index=index, key=f"k{index}", family=family, framework="flask", oracle="vm/small/x1",
                      knowledge_base="vm/small/x1", decision="vm/small/x1" if correct else "vm/medium/x1",
                      correct=correct, strategy_correct=True, size_correct=correct, outcome=outcome, reason="",
                      citations=0, latency_ms=1.0, thumbs_up=up,
                      vote_comment="right-sized: peak memory 40% of t3.small" if up else "OOMKilled on t3.small")


def test_windows_rolling_curve_and_families():
    steps = [_step(i, correct=i >= 50 and i % 2 == 0, family="standard" if i % 3 else "bursty") for i in range(120)]
    w = bench.windows(steps)
    assert w["first_20"] == 0.0
    assert w["81_100"] == 0.5
    assert w["101_120"] == 0.5
    assert w["all"] == pytest.approx(35 / 120, abs=1e-4)
    curve = bench.rolling(steps)
    assert len(curve) == 120 and curve[0] == 0.0 and curve[-1] == 0.5
    assert bench.rolling([_step(0, True), _step(1, False)]) == [1.0, 0.5]  # short prefix: its own mean
    families = bench.by_family(steps)
    assert families["bursty"]["n"] == 40 and families["standard"]["n"] == 80
    short = bench.windows(steps[:30])
    assert set(short) == {"first_20", "11_30", "all"}


def test_silent_errors_count_strictly_wrong_plans_the_users_liked():
    steps = [_step(0, False, up=True), _step(1, False, outcome="failed"), _step(2, True), _step(3, False)]
    assert bench.silent_errors(steps) == {"wrong": 3, "succeeded_anyway": 1, "share_of_all": 0.25}


def test_report_keeps_thumbs_up_and_strict_apart():
    steps = [_step(i, correct=i % 4 == 0, up=i % 2 == 0) for i in range(40)]
    report = bench.report(steps)
    assert report["windows"]["all"] == 0.5 and report["strict_windows"]["all"] == 0.25
    assert report["by_family"]["standard"] == {"n": 40, "accuracy": 0.5, "strict": 0.25}
    assert report["thumbs_down_reasons"] == {"OOMKilled on": 20}


class _Unary:
    def __init__(self, calls: list, name: str, answer):
        self.calls, self.name, self.answer = calls, name, answer

    async def __call__(self, request, timeout=None):
        self.calls.append((self.name, request))
        return self.answer(request)


class FakeMemory:
    """Records the protocol's calls; answers as the RAG service would (an id on RecordDeployment)."""

    def __init__(self):
        self.calls: list = []
        self.RecordDeployment = _Unary(self.calls, "RecordDeployment", lambda r: rag_pb2.RecordDeploymentResponse(
            record=common_pb2.DeploymentRecord(id=f"id-{len(self.calls)}", tenant=r.record.tenant), created=True))
        self.UpdateOutcome = _Unary(self.calls, "UpdateOutcome", lambda r: common_pb2.DeploymentRecord(id=r.id))
        self.RecordFeedback = _Unary(self.calls, "RecordFeedback", lambda r: common_pb2.DeploymentRecord(id=r.id))


class OraclePlanner:
    """Answers every Plan with the oracle's plan: the harness must then score 100%."""

    def __init__(self, by_prompt):
        self.by_prompt = by_prompt
        self.requests: list = []
        self.Plan = _Unary(self.requests, "Plan", lambda r: planner_pb2.PlanResponse(plan=self.by_prompt[r.intent.prompt]))


def test_sequence_plans_scores_and_records_in_protocol_order():
    items = ScenarioGenerator(seed=16).scenarios(12)
    planner = OraclePlanner({s.intent.prompt: scenarios.plan_message(s, scenarios.oracle(s)) for s in items})
    memory = FakeMemory()
    steps = asyncio.run(bench.sequence(planner, memory, items, CATALOGUE, "bench-test", disable_retrieval=True,
                                       record=True, label="test"))
    assert bench.accuracy(steps) == 1.0 and all(s.succeeded for s in steps)
    # The oracle's plans are the cheapest that work: every one gets a thumbs up unless over a budget
    # nothing could meet... which a soft budget then only warns about.
    assert bench.accuracy(steps, "thumbs_up") == 1.0
    sent = [r for _n, r in planner.requests]
    assert all(r.disable_retrieval and r.tenant == "bench-test" and r.HasField("analysis") for r in sent)
    names = [n for n, _r in memory.calls]
    assert names.count("RecordDeployment") == names.count("UpdateOutcome") == len(items)
    # Each deployment: recorded (PENDING, valid for the RAG service), then its outcome, then votes.
    for name, request in memory.calls:
        if name == "RecordDeployment":
            assert request.record.outcome == common_pb2.OUTCOME_PENDING
            deployment_record(request.record, max_record_bytes=1 << 20, max_prompt_chars=10_000, max_reason_chars=4_000)
        if name == "UpdateOutcome":
            assert request.outcome == common_pb2.OUTCOME_SUCCESS and request.tenant == "bench-test"
    first_update = names.index("UpdateOutcome")
    assert names[first_update - 1] == "RecordDeployment"
    assert memory.calls[first_update][1].id == "id-1"


def test_failures_are_recorded_with_their_reason_and_the_teams_vote():
    scenario = next(s for s in ScenarioGenerator(seed=17).scenarios(200)
                    if scenarios.oracle(s).strategy == common_pb2.STRATEGY_VM
                    and scenarios.memory_need_mb(s.app, s.intent.traffic, s.family) > 512)
    plan = scenarios.plan_message(scenario, scenarios.oracle(scenario))
    plan.configuration.vm.instance_type = CATALOGUE.ladder(scenario.intent.cloud)[0]
    decision = bench.decision_of(plan, CATALOGUE)
    result, _stand_in = bench.outcome_of(scenario, decision)
    memory = FakeMemory()
    asyncio.run(bench.record_outcome(memory, scenario, plan, result, bench.verdict_of(scenario, decision, result), "bench-test"))
    update = next(r for n, r in memory.calls if n == "UpdateOutcome")
    assert update.outcome == common_pb2.OUTCOME_FAILED and update.reason.startswith("OOMKilled on ")
    assert update.metrics.memory_utilization == 1.0
    votes = [r for n, r in memory.calls if n == "RecordFeedback"]
    assert [(v.vote, v.comment) for v in votes] == [(-1, update.reason)]
    assert votes[0].user == f"team-{scenario.app.name}"


def test_every_deployment_gets_one_vote_saying_why():
    items = ScenarioGenerator(seed=18).scenarios(10)
    planner = OraclePlanner({s.intent.prompt: scenarios.plan_message(s, scenarios.oracle(s)) for s in items})
    memory = FakeMemory()
    steps = asyncio.run(bench.sequence(planner, memory, items, CATALOGUE, "bench-test", disable_retrieval=False,
                                       record=True, label="test"))
    votes = [r for n, r in memory.calls if n == "RecordFeedback"]
    assert len(votes) == len(items)
    for step, vote in zip(steps, votes):
        assert vote.vote == (1 if step.thumbs_up else -1) and vote.comment == step.vote_comment
        assert vote.comment.startswith("right-sized: peak memory ") or vote.vote == -1


def _results(steps_on, steps_off, held) -> dict:
    return {
        "seed": 1, "scenarios": len(steps_on), "held_out": len(held), "window": bench.WINDOW,
        "memory_records_after": len(steps_on), "reranker": "features",
        "with_retrieval": bench.report(steps_on), "without_retrieval": bench.report(steps_off),
        "held_out_with_retrieval": bench.held_out_report(held),
        "held_out_without_retrieval": {**bench.held_out_report(held), "accuracy": 0.5, "strict": 0.5},
        "knowledge_base_disagreement": bench.disagreement_with_world_rules(steps_off),
        "plan_latency_with_retrieval": {"p50_ms": 80.0, "p99_ms": 200.0, "calls": 10, "target_p50_ms": 200.0},
        "plan_latency_without_retrieval": {"p50_ms": 3.0, "p99_ms": 4.0, "calls": 10},
        "targets": {"accuracy_after_100": 0.9},
    }


def test_summary_and_plot(tmp_path):
    on = [_step(i, correct=i >= 30, family=("standard", "bursty")[i % 2]) for i in range(110)]
    off = [_step(i, correct=i % 4 == 0, family=("standard", "bursty")[i % 2]) for i in range(110)]
    results = _results(on, off, on[:10])
    text = bench.summary(results)
    assert "| scenarios 81-100 | **100%** | 25% | 100% | 25% | >= 90% |" in text
    assert "| scenarios first 20 | **0%** |" in text
    assert "| bursty | 55 |" in text
    path = bench.plot(results, tmp_path / "curve.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_learnability_bound_counts_latent_needs_without_a_visible_trace():
    items = ScenarioGenerator(seed=2026).scenarios(160)
    baseline = [_step(i, correct=False, up=False) for i in range(160)]
    bound = bench.learnability(items, baseline, start=100)
    assert bound["n"] == 60 and bound["learnable"] + bound["unlearnable"] == 60
    standard = sum(1 for s in items[100:] if s.family == "standard")
    assert bound["learnable"] >= standard and bound["unlearnable"] > 0
    assert bound["unlearnable_right_without_memory"] == 0 and bound["ceiling"] == round(bound["learnable"] / 60, 4)
    # A baseline that was right everywhere lifts the ceiling to 100%.
    assert bench.learnability(items, [_step(i, correct=True) for i in range(160)], start=100)["ceiling"] == 1.0


def test_an_app_deployed_earlier_in_the_stream_is_learnable_and_the_second_stream_is_reported(tmp_path):
    # A latent need with no visible trace: unlearnable the first time, learnable from its own outcome.
    signatures = {name for libs in scenarios.FAMILY_SIGNATURES["needs-ha"].values() for name, _ in libs}
    generator = ScenarioGenerator(seed=2026)
    hidden = next(s for s in generator.scenarios(300) if s.family == "needs-ha"
                  and not signatures & {d[0] for d in s.app.dependencies})
    other = generator.scenario(5000)
    again = scenarios.Scenario("again", hidden.app, generator.intent(hidden.app, 7))
    misses = [_step(i, correct=False, up=False) for i in range(2)]
    assert bench.learnability([other, hidden], misses, start=1)["unlearnable"] == 1
    assert bench.learnability([hidden, again], misses, start=1) == {
        "from": 2, "n": 1, "learnable": 1, "unlearnable": 0, "unlearnable_right_without_memory": 0, "ceiling": 1.0}
    bound = bench.learnability(generator.recurring_scenarios(160), [_step(i, correct=False, up=False) for i in range(160)])
    on = [_step(i, correct=i >= 30) for i in range(110)]
    off = [_step(i, correct=i % 4 == 0) for i in range(110)]
    results = _results(on, off, on[:10])
    results["recurring"] = {"share": 1 / 3, "repeats": 37, "with_retrieval": bench.report(on),
                            "without_retrieval": bench.report(off), "learnability_after_100": bound}
    text = bench.summary(results)
    assert "Second stream, apps recurring" in text and "37 of 110" in text
    assert "| scenarios 81-100 | **100%** | 25% | 100% | 25% |" in text.split("Second stream")[1]
    assert bench.plot(results, tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_on_several_seeds_are_compared_by_their_headline_numbers():
    items = ScenarioGenerator(seed=2026).scenarios(110)
    runs = []
    for seed, start in ((7, 30), (8, 50)):
        on = [_step(i, correct=i >= start) for i in range(110)]
        off = [_step(i, correct=i % 4 == 0) for i in range(110)]
        results = {**_results(on, off, on[:10]), "seed": seed,
                   "learnability_after_100": bench.learnability(items, off, start=100)}
        runs.append(bench.seed_summary(results))
    assert [r["seed"] for r in runs] == [7, 8]
    assert runs[0]["after_100"] == runs[0]["thumbs_up"]["101_110"] == 1.0
    assert runs[0]["after_100_without_retrieval"] == 0.3 and "recurring_after_100" not in runs[0]
    table = bench.seeds_table(runs)
    assert "| 7 | 100% | 30% |" in table and "| 8 | 100% | 30% |" in table
    assert table.splitlines()[-1].startswith("| mean | 100% | 30% |") and table.endswith("| n/a | n/a |")


def test_explain_reports_what_the_planners_retrieval_found_before_each_plan():
    items = ScenarioGenerator(seed=16).scenarios(4)
    planner = OraclePlanner({s.intent.prompt: scenarios.plan_message(s, scenarios.oracle(s)) for s in items})
    memory = FakeMemory()
    stored: list[common_pb2.DeploymentRecord] = []

    def record(request):
        stored.append(request.record)
        return rag_pb2.RecordDeploymentResponse(record=common_pb2.DeploymentRecord(id=f"id-{len(stored)}"), created=True)

    memory.RecordDeployment = _Unary(memory.calls, "RecordDeployment", record)
    memory.Retrieve = _Unary(memory.calls, "Retrieve", lambda r: rag_pb2.RetrieveResponse(results=[
        rag_pb2.RetrievedDeployment(record=common_pb2.DeploymentRecord(id=f"id-{n}", name=rec.name, plan=rec.plan,
                                                                       analysis=rec.analysis), score=0.8)
        for n, rec in enumerate(stored)]))
    steps = asyncio.run(bench.sequence(planner, memory, items, CATALOGUE, "bench-test", disable_retrieval=False,
                                       record=True, label="test", explain=True))
    assert steps[0].explain.startswith("retrieved 0, relevance -, same family 0 (in memory 0)")
    last = steps[-1].explain
    earlier_same = sum(1 for s in items[:-1] if s.family == items[-1].family)
    assert last.startswith(f"retrieved 3, relevance 0.80..0.80, same family {earlier_same} (in memory {earlier_same})")
    assert "balance" in last and "floors" in last and "memory scale" in last
    # The planner's own query is asked before each Plan.
    retrieves = [r for n, r in memory.calls if n == "Retrieve"]
    assert len(retrieves) == len(items)
    assert retrieves[0].deployment.intent.prompt == items[0].deployment_intent().prompt
    assert retrieves[0].weights.relevance == 1.0
    # Without --explain nothing more is asked (the benchmark's protocol is unchanged).
    quiet = FakeMemory()
    asyncio.run(bench.sequence(planner, quiet, items, CATALOGUE, "bench-test", disable_retrieval=False, record=True, label="test"))
    assert not any(n == "Retrieve" for n, _r in quiet.calls)


def test_a_run_of_several_seeds_keeps_the_seeds_it_finished(tmp_path):
    items = ScenarioGenerator(seed=2026).scenarios(110)

    def run_one(seed: int) -> dict:
        if seed == 9:
            raise RuntimeError("['-m', 'scia.rag'] did not start")
        on = [_step(i, correct=i >= 30) for i in range(110)]
        off = [_step(i, correct=i % 4 == 0) for i in range(110)]
        return {**_results(on, off, on[:10]), "seed": seed, "learnability_after_100": bench.learnability(items, off, start=100)}

    output = tmp_path / "seeds.json"
    summaries, path = bench.run_seeds([7, 8], run_one, output)
    assert path == output and [s["seed"] for s in summaries] == [7, 8]
    with pytest.raises(RuntimeError):
        bench.run_seeds([7, 9, 8], run_one, output)
    written = json.loads(output.read_text())
    assert [s["seed"] for s in written["seeds"]] == [7] and written["seeds"][0]["after_100"] == 1.0
    assert written["machine"]["cores"] >= 1
