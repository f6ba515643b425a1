"""Unit tests of the pure parts: texts, fusion, feature scores, final score, filters, page tokens,
validation. No I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from scia.rag import validation
from scia.rag.config import RagSettings
from scia.rag.ranking import (
    CandidateFeatures,
    RankingParameters,
    cost_efficiency_score,
    cost_reference,
    enum_label,
    feedback_score,
    fused_share,
    outcome_score,
    query_keywords,
    query_text,
    rank,
    recency_score,
    reciprocal_rank_fusion,
    record_text,
    relevance_of,
    similarity_relevance,
    weighted_score,
)
from scia.rag.records import (
    Cursor,
    columns_of,
    decode_page_token,
    encode_page_token,
    filter_sql,
    query_fingerprint,
    record_from_row,
)
from scia.rag.store import LexemeStats, any_word_tsquery
from scia.rag.validation import InvalidArgument
from scia.v1 import common_pb2, rag_pb2

from tests.rag.factories import deployment_query, make_record

WEIGHTS = RagSettings().default_weights()
NOW = datetime(2026, 11, 28, tzinfo=UTC)


# --- texts ---------------------------------------------------------------------------------------


def test_record_text_has_the_telling_parts_in_order():
    record = make_record(
        "team-a",
        "flask",
        prompt="Flask API with high availability",
        strategy=common_pb2.STRATEGY_KUBERNETES,
        instance_type="t3.medium",
        cost=240,
        outcome=common_pb2.OUTCOME_FAILED,
        reason="OOMKilled on t3.small",
    )
    text = record_text(record)
    for part in (
        "flask python application",
        "dependencies: flask, gunicorn",
        "request: Flask API with high availability",
        "deployed as kubernetes on aws eu-west-3",
        "2 x t3.medium nodes",
        "240 USD per month",
        "outcome: failed (OOMKilled on t3.small)",
    ):
        assert part in text, part
    assert text.index("flask python") < text.index("request:") < text.index("outcome:")


def test_enum_labels_drop_the_whole_enum_prefix():
    record = make_record("team-a", "flask")
    record.analysis.applications[0].traits.add(kind=common_pb2.TRAIT_KIND_HEALTH_ENDPOINT)
    record.analysis.applications[0].traits.add(kind=common_pb2.TRAIT_KIND_BACKGROUND_WORKER)
    assert "traits: health endpoint, background worker." in record_text(record)
    assert "kind" not in record_text(record)
    assert enum_label(common_pb2.Strategy, common_pb2.STRATEGY_KUBERNETES) == "kubernetes"
    assert enum_label(common_pb2.Outcome, common_pb2.OUTCOME_FAILED) == "failed"
    assert enum_label(common_pb2.TraitKind, common_pb2.TRAIT_KIND_UNSPECIFIED) == ""
    assert enum_label(common_pb2.TraitKind, 999) == ""  # a newer client's value: nothing, not a crash


def test_record_text_stays_under_the_word_limit_and_keeps_the_outcome():
    record = make_record("team-a", "django", prompt="word " * 5000, outcome=common_pb2.OUTCOME_DEGRADED, reason="slow")
    text = record_text(record, max_words=400)
    assert len(text.split()) <= 400
    assert "outcome: degraded (slow)" in text  # a long prompt is cut first


def test_dev_dependencies_are_left_out():
    record = make_record("team-a", "flask")
    record.analysis.applications[0].dependencies.add(name="pytest", dev=True)
    assert "pytest" not in record_text(record)


def test_query_text_mirrors_record_text():
    query = deployment_query("flask", "Flask API under $300/month")
    text = query_text(query.analysis, query.intent)
    assert text.startswith("flask python application. dependencies: flask, gunicorn")
    assert "request: Flask API under $300/month" in text
    assert "outcome" not in text


def test_query_keywords_leave_out_the_template_words():
    query = deployment_query("flask", "Flask API under $300/month")
    keywords = query_keywords(query.analysis, query.intent)
    assert keywords.startswith("flask python flask gunicorn")
    for template in ("application", "request", "dependencies", "deployed"):
        assert template not in keywords


# --- fusion and features ---------------------------------------------------------------------


def test_reciprocal_rank_fusion():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)
    assert max(fused, key=fused.get) == "b"  # in both lists beats first in one


def test_any_word_tsquery_leaves_out_common_words_and_quotes_the_rest():
    common = {"deploy": LexemeStats(0.9, 90_000), "flask": LexemeStats(0.08, 8_000), "rare": LexemeStats(0.06, 60)}
    # "deploy" and "flask": over 5% of the rows and more rows than are ranked; "rare" is in too few.
    assert any_word_tsquery(["deploy", "flask", "celeri", "rare"], common, 0.05, 100, 32) == "'celeri' | 'rare'"
    assert any_word_tsquery(["flask"], common, 0.1, 100, 32) == "'flask'"  # 8% is not common at 10%
    assert any_word_tsquery(["deploy"], common, 0.05, 100, 32) == ""  # nothing left to search for
    assert any_word_tsquery(["deploy", "flask"], {}, 0.05, 100, 32) == "'deploy' | 'flask'"  # no statistics yet
    # The rarest words are kept, each one tsquery operand, quotes and backslashes doubled.
    assert any_word_tsquery(["rare", "zeta", "alpha"], common, 0.05, 100, 2) == "'alpha' | 'zeta'"
    assert any_word_tsquery(["it's", "a\\b"], {}, 0.05, 100, 32) == "'a\\\\b' | 'it''s'"


def test_fused_share_is_an_absolute_scale():
    assert fused_share(2 / 61, lists=2) == pytest.approx(1.0)  # first in both lists
    assert fused_share(1 / 61, lists=2) == pytest.approx(0.5)  # first in one of two
    assert fused_share(1 / 61, lists=1) == pytest.approx(1.0)  # first in the only list searched
    assert fused_share(1 / 70, lists=2) == pytest.approx(61 / 140)  # does not depend on the other candidates


def test_similarity_relevance_maps_cosine_on_a_fixed_scale():
    assert similarity_relevance(1.0, 0.5) == 1.0
    assert similarity_relevance(0.75, 0.5) == pytest.approx(0.5)
    assert similarity_relevance(0.5, 0.5) == 0.0
    assert similarity_relevance(0.2, 0.5) == 0.0  # below the floor: irrelevant, never negative
    assert similarity_relevance(0.6, 0.0) == pytest.approx(0.6)  # floor 0: the raw cosine
    with pytest.raises(ValueError, match="below 1"):
        similarity_relevance(0.9, 1.0)


def test_relevance_prefers_the_cross_encoder_then_similarity_then_text_rank():
    with_vector = _features("a", similarity=0.9)
    without = _features("b")
    assert relevance_of(with_vector, 0.3, 0.2, 0.5) == 0.2
    assert relevance_of(with_vector, 0.3, None, 0.5) == pytest.approx(0.8)
    assert relevance_of(without, 0.3, None, 0.5) == 0.3  # embedder down: the full-text rank


def test_feedback_score_has_a_prior():
    assert feedback_score(0, 0) == 0.5
    assert feedback_score(1, 0) == pytest.approx(2 / 3)
    assert feedback_score(0, 1) == pytest.approx(1 / 3)
    assert feedback_score(100, 0) > 0.98
    assert feedback_score(3, 3) == 0.5


def test_recency_halves_every_half_life():
    assert recency_score(NOW, NOW, 90) == 1.0
    assert recency_score(NOW - timedelta(days=90), NOW, 90) == pytest.approx(0.5)
    assert recency_score(NOW - timedelta(days=180), NOW, 90) == pytest.approx(0.25)
    assert recency_score(NOW + timedelta(days=3), NOW, 90) == 1.0  # clock skew is not a bonus


def test_cost_efficiency_relative_to_budget():
    assert cost_efficiency_score(0, 300) == 0.5  # unknown cost: neutral
    assert cost_efficiency_score(100, 0) == 0.5  # nothing to compare with: neutral
    assert cost_efficiency_score(300, 300) == pytest.approx(0.5)
    assert cost_efficiency_score(100, 300) == pytest.approx(0.75)
    assert cost_efficiency_score(600, 300) == pytest.approx(1 / 3)
    assert cost_reference(300, [10, 20]) == 300
    assert cost_reference(0, [10, 0, 30, 50]) == 30  # median of the known costs
    assert cost_reference(0, [0, 0]) == 0


def test_outcome_scores_follow_the_contract():
    assert outcome_score(common_pb2.OUTCOME_SUCCESS) == 1.0
    assert outcome_score(common_pb2.OUTCOME_DEGRADED) == 0.5
    assert outcome_score(common_pb2.OUTCOME_FAILED) == 0.25
    assert outcome_score(common_pb2.OUTCOME_PENDING) == 0.5
    assert outcome_score(common_pb2.OUTCOME_DELETED) == 0.5


def test_weighted_score_is_a_weighted_mean():
    ones = dict.fromkeys(("relevance", "feedback", "recency", "cost_efficiency", "outcome"), 1.0)
    assert weighted_score(ones, WEIGHTS) == pytest.approx(1.0)
    only_relevance = {**dict.fromkeys(ones, 0.0), "relevance": 1.0}
    assert weighted_score(only_relevance, WEIGHTS) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        weighted_score(ones, dict.fromkeys(ones, 0.0))


def _features(item: str, **kwargs) -> CandidateFeatures:
    return CandidateFeatures(
        id=item,
        created_at=kwargs.pop("created_at", NOW),
        monthly_cost=kwargs.pop("cost", 100),
        outcome=kwargs.pop("outcome", common_pb2.OUTCOME_SUCCESS),
        **kwargs,
    )


def test_rank_fills_every_component_and_orders_best_first():
    features = {
        "a": _features("a"),
        "b": _features("b", up=5),
        "c": _features("c", created_at=NOW - timedelta(days=365)),
    }
    ranked = rank([("a", 0.9), ("b", 0.8)], [("b", 0.4), ("c", 0.3)], features, NOW, RankingParameters(weights=WEIGHTS))
    assert [r.id for r in ranked][0] == "b"  # in both lists and upvoted
    top = ranked[0]
    assert (top.vector_rank, top.text_rank) == (2, 1)
    assert set(top.components) == {
        "vector_similarity",
        "text_rank",
        "fused",
        "relevance",
        "feedback",
        "recency",
        "cost_efficiency",
        "outcome",
    }
    assert top.components["vector_similarity"] == pytest.approx(0.8)
    assert top.components["text_rank"] == pytest.approx(0.4)
    for scored in ranked:
        assert 0 <= scored.score <= 1
        assert all(0 <= value <= 1 for value in scored.components.values())
    c = next(r for r in ranked if r.id == "c")
    assert c.vector_rank == 0 and c.components["vector_similarity"] == 0
    assert c.components["recency"] < 0.1


def test_rank_uses_cross_encoder_relevance_and_drops_vanished_candidates():
    features = {"a": _features("a"), "b": _features("b")}
    ranked = rank(
        [("a", 0.9), ("b", 0.8), ("gone", 0.7)],
        [],
        features,
        NOW,
        RankingParameters(weights=WEIGHTS),
        cross_encoder={"a": 0.1, "b": 0.95},
    )
    assert [r.id for r in ranked] == ["b", "a"]
    assert ranked[0].components["relevance"] == 0.95


def test_rank_mode_none_keeps_the_fused_order():
    features = {"a": _features("a", outcome=common_pb2.OUTCOME_FAILED), "b": _features("b", up=50)}
    ranked = rank([("a", 0.9), ("b", 0.5)], [], features, NOW, RankingParameters(weights=WEIGHTS, mode="none"))
    assert [r.id for r in ranked] == ["a", "b"]
    # First and second of one list out of two searched: absolute shares, the second is not 0.
    assert ranked[0].score == pytest.approx(0.5) and ranked[1].score == pytest.approx(61 / 124)


def test_relevance_is_absolute_not_relative_to_the_other_candidates():
    """Min-max over the candidates gave the second of two candidates relevance 0 however close it
    was, and the same record different relevance in different queries. Now the record's own
    similarity decides: equal similarity, equal relevance, whatever else was found."""
    parameters = RankingParameters(weights=WEIGHTS)
    two = rank(
        [("a", 0.92), ("b", 0.9)],
        [],
        {"a": _features("a", similarity=0.92), "b": _features("b", similarity=0.9)},
        NOW,
        parameters,
    )
    assert two[1].id == "b" and two[1].components["relevance"] == pytest.approx(2 / 3)  # floor 0.7
    alone = rank([("b", 0.9)], [], {"b": _features("b", similarity=0.9)}, NOW, parameters)
    assert alone[0].components["relevance"] == pytest.approx(2 / 3)
    # A full-text-only candidate is judged by its own similarity too, not left at 0.
    text_only = rank(
        [("a", 0.92)],
        [("c", 0.4)],
        {"a": _features("a", similarity=0.92), "c": _features("c", similarity=0.3)},
        NOW,
        parameters,
    )
    c = next(r for r in text_only if r.id == "c")
    assert c.components["relevance"] == 0.0 and c.components["vector_similarity"] == 0.0
    assert text_only[0].id == "a"


def test_a_weak_best_match_is_not_promoted_to_full_relevance():
    ranked = rank([("a", 0.73)], [], {"a": _features("a", similarity=0.73)}, NOW, RankingParameters(weights=WEIGHTS))
    assert ranked[0].components["relevance"] == pytest.approx(0.1)


def test_rank_features_can_outweigh_retrieval_order_when_asked():
    features = {"a": _features("a", outcome=common_pb2.OUTCOME_FAILED, cost=900), "b": _features("b", cost=50)}
    weights = {"relevance": 0.1, "feedback": 0, "recency": 0, "cost_efficiency": 1, "outcome": 1}
    ranked = rank([("a", 0.9), ("b", 0.85)], [], features, NOW, RankingParameters(weights=weights, budget=300))
    assert [r.id for r in ranked] == ["b", "a"]


# --- rows, filters, tokens ---------------------------------------------------------------------


def test_columns_and_row_round_trip():
    record = make_record("team-a", "Flask", outcome=common_pb2.OUTCOME_SUCCESS, cost=42.5)
    record.metrics.restarts = 3
    columns = columns_of(record)
    assert (columns.framework, columns.language, columns.strategy, columns.cloud) == ("flask", "python", 1, 1)
    assert columns.estimated_monthly_cost_usd == 42.5
    assert (
        "outcome" not in columns.record_json
        and "metrics" not in columns.record_json
        and "tenant" not in columns.record_json
    )
    row = {
        "id": "6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1",
        "tenant": "team-a",
        "outcome": 2,
        "outcome_reason": "",
        "metrics": {"restarts": 3},
        "record": columns.record_json,
        "created_at": NOW,
        "updated_at": NOW,
        "outcome_at": None,
    }
    restored = record_from_row(row)
    assert restored.plan == record.plan and restored.analysis == record.analysis and restored.metrics.restarts == 3
    assert restored.outcome == common_pb2.OUTCOME_SUCCESS and restored.tenant == "team-a"


def test_filter_sql_always_scopes_tenants_first():
    where, params = filter_sql(["a", "b"], rag_pb2.DeploymentFilter())
    assert (where, params) == ("tenant = ANY(%s)", [["a", "b"]])
    value = rag_pb2.DeploymentFilter(
        frameworks=["Flask"], outcomes=[common_pb2.OUTCOME_FAILED], max_monthly_cost_usd=300, name="shop"
    )
    value.created_after.FromDatetime(NOW - timedelta(days=1))
    where, params = filter_sql(["a"], value)
    assert params[0] == "a"
    assert where.startswith("tenant = %s AND ")  # one tenant: an equality, so indexes can be read in order
    assert (
        "framework = ANY(%s)" in where and "estimated_monthly_cost_usd <= %s" in where and "created_at >= %s" in where
    )
    assert params[1] == ["flask"] and params[2] == [common_pb2.OUTCOME_FAILED]
    assert where.count("%s") == len(params)


def test_page_tokens_are_bound_to_their_query():
    fingerprint = query_fingerprint("team-a", rag_pb2.DeploymentFilter(frameworks=["flask"]))
    cursor = Cursor(NOW, "6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1")
    assert decode_page_token(encode_page_token(cursor, fingerprint), fingerprint) == cursor
    other = query_fingerprint("team-a", rag_pb2.DeploymentFilter(frameworks=["django"]))
    with pytest.raises(InvalidArgument, match="different tenant or filter"):
        decode_page_token(encode_page_token(cursor, fingerprint), other)
    with pytest.raises(InvalidArgument, match="page_token"):
        decode_page_token("not-a-token!!", fingerprint)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["team-a", "a", "0abc", "a" * 63])
def test_valid_tenants(name):
    assert validation.tenant(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "required"), ("Team", "namespace"), ("-a", "namespace"), ("a_b", "namespace"), ("a" * 64, "limit of 63")],
)
def test_invalid_tenants(name, problem):
    with pytest.raises(InvalidArgument, match=problem) as raised:
        validation.tenant(name)
    assert raised.value.field == "tenant"


def test_record_validation_names_the_field():
    limits = {"max_record_bytes": 1 << 20, "max_prompt_chars": 100, "max_reason_chars": 100}
    validation.deployment_record(make_record("team-a", "flask"), **limits)
    cases = [
        (lambda r: r.ClearField("uid"), "record.uid"),
        (lambda r: setattr(r, "revision", 0), "record.revision"),
        (lambda r: setattr(r.intent, "prompt", "x" * 101), "limit of 100"),
        (lambda r: setattr(r, "id", "6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1"), "record.id"),
        (lambda r: setattr(r.plan.cost, "monthly_total_usd", math.nan), "monthly_total_usd"),
        (lambda r: setattr(r, "outcome", 42), "record.outcome"),
    ]
    for change, expected in cases:
        record = make_record("team-a", "flask")
        change(record)
        with pytest.raises(InvalidArgument, match=expected):
            validation.deployment_record(record, **limits)


def test_retrieve_validation_limits_and_defaults():
    limits = {"max_limit": 50, "max_candidates": 200, "max_query_chars": 50, "max_prompt_chars": 100}
    assert validation.retrieve(rag_pb2.RetrieveRequest(tenant="a", text="flask"), **limits) == (5, 20)
    assert validation.retrieve(
        rag_pb2.RetrieveRequest(tenant="a", text="flask", limit=30, candidates=10), **limits
    ) == (30, 30)
    for request, expected in [
        (rag_pb2.RetrieveRequest(tenant="a"), "query: is required"),
        (rag_pb2.RetrieveRequest(tenant="a", text="x", limit=51), "limit: is 51, over the limit of 50"),
        (rag_pb2.RetrieveRequest(tenant="a", text="x", candidates=201), "candidates: is 201"),
        (rag_pb2.RetrieveRequest(tenant="a", text="x" * 51), "text: has 51 characters"),
        (rag_pb2.RetrieveRequest(tenant="a", deployment=rag_pb2.DeploymentQuery()), "deployment: is empty"),
    ]:
        with pytest.raises(InvalidArgument, match=expected):
            validation.retrieve(request, **limits)


def test_weights_default_when_unset_and_refuse_negatives():
    assert validation.weights(rag_pb2.RerankWeights(), WEIGHTS) == WEIGHTS
    assert validation.weights(rag_pb2.RerankWeights(relevance=1), WEIGHTS)["relevance"] == 1
    with pytest.raises(InvalidArgument, match="weights.recency"):
        validation.weights(rag_pb2.RerankWeights(recency=-1), WEIGHTS)


def test_settings_sharing_is_one_way():
    settings = RagSettings(shared_tenants={"platform": ["team-a", "team-b"]})
    assert settings.visible_tenants("team-a") == ["team-a", "platform"]
    assert settings.visible_tenants("platform") == ["platform"]
    with pytest.raises(ValueError, match="not a tenant name"):
        RagSettings(shared_tenants={"Bad_Name": ["team-a"]})
