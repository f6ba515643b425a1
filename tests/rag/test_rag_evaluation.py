"""NDCG evaluation of the re-ranker: the metric on hand-made rankings, the evaluation-set format,
and a whole evaluation (and `scia-rag evaluate-reranker`) with a tiny model trained in the test."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from scia.rag.commands import main as command_main
from scia.rag.evaluation import ORDERINGS, EvaluationSet, dcg, evaluate, ndcg_at_k
from scia.rag.embedding import EmbedderClient
from scia.rag.reranker import CrossEncoderReranker
from scia.rag.training import Pair, train

from bench import scenarios

ASYNC = pytest.mark.asyncio(loop_scope="module")


def test_dcg_by_hand():
    # gains 2^g - 1 = 7, 0, 1 at discounts 1, 1/log2(3), 1/2
    assert dcg([3, 0, 1], 3) == pytest.approx(7 + 0 + 0.5)
    assert dcg([3, 0, 1], 1) == pytest.approx(7)
    assert dcg([], 5) == 0


def test_ndcg_on_hand_made_rankings():
    judged = [3, 2, 1, 0, 0]
    assert ndcg_at_k([3, 2, 1, 0, 0], judged, 5) == pytest.approx(1.0)
    reversed_order = ndcg_at_k([0, 0, 1, 2, 3], judged, 5)
    ideal = 7 + 3 / math.log2(3) + 1 / 2
    assert reversed_order == pytest.approx((1 / 2 + 3 / math.log2(5) + 7 / math.log2(6)) / ideal)
    swapped = ndcg_at_k([2, 3, 1, 0, 0], judged, 5)
    assert reversed_order < swapped < 1.0
    # A relevant record the candidates missed counts against the ranking (ideal over all judged).
    assert ndcg_at_k([3, 0, 0, 0, 0], [3, 3], 5) == pytest.approx(7 / (7 + 7 / math.log2(3)))
    # Nothing relevant: the query says nothing about the ordering.
    assert ndcg_at_k([0, 0], [0, 0], 5) is None


def test_evaluation_set_errors_name_the_line(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text(
        '{"type": "record", "id": "r1", "text": "flask app", "created_at": "2026-01-01T00:00:00+00:00"}\n'
        '{"type": "query", "id": "q1", "text": "flask", "relevance": {"r2": 1}}\n'
    )
    with pytest.raises(ValueError, match="query q1 labels unknown records"):
        EvaluationSet.read(path)
    path.write_text('{"type": "record", "id": "r1"}\n')
    with pytest.raises(ValueError, match="eval.jsonl:1: not an evaluation record"):
        EvaluationSet.read(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A cross-encoder fine-tuned for a few steps on scenario pairs: proves the pipeline, not quality."""
    generator = scenarios.ScenarioGenerator(seed=21)
    pairs = [Pair(**p) for p in scenarios.training_pairs(generator, 12, negatives=4, apps=40)]
    output = tmp_path_factory.mktemp("models")
    train(pairs, output, epochs=1, batch_size=16, max_length=128)
    return output / "current"


@pytest.fixture(scope="module")
def evaluation_file(tmp_path_factory):
    items = scenarios.evaluation_items(scenarios.ScenarioGenerator(seed=22), records=60, queries=8, apps=12)
    return scenarios.write_jsonl(tmp_path_factory.mktemp("eval") / "eval.jsonl", items)


@ASYNC
async def test_evaluate_with_a_tiny_model(embedder_target, tiny_model, evaluation_file):
    evaluation_set = EvaluationSet.read(evaluation_file)
    reranker = CrossEncoderReranker(tiny_model)
    client = EmbedderClient(embedder_target, timeout=60)
    try:
        report = await evaluate(evaluation_set, client, reranker, candidates=10, k=5)
        without_model = await evaluate(evaluation_set, client, None, candidates=10, k=5)
    finally:
        await client.close()
    assert report["queries"] + report["queries_without_relevant_records"] == 8
    assert report["queries"] >= 6
    for name in ORDERINGS:
        assert 0.0 <= report[name]["ndcg_at_5"] <= 1.0
    assert report["reranker"].startswith("cross-encoder:v")
    # Orderings that need no model are the same with or without one: the candidates are shared.
    assert without_model["vector"] == report["vector"] and without_model["features"] == report["features"]
    assert "cross_encoder" not in without_model
    gains = report["cross_encoder_features_vs_vector"]
    assert gains["queries_better"] + gains["queries_worse"] <= report["queries"]


@ASYNC
async def test_evaluate_reranker_command(embedder_target, tiny_model, evaluation_file, capsys):
    argv = ["evaluate-reranker", "--eval-set", str(evaluation_file), "--model", str(tiny_model),
            "--embedder-target", embedder_target, "--candidates", "10", "--json"]
    # The command runs its own event loop: a thread keeps it off this test's loop (the embedder's).
    assert await asyncio.to_thread(command_main, argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(ORDERINGS) <= set(report) and report["k"] == 5
    missing = ["evaluate-reranker", "--eval-set", str(evaluation_file), "--model", str(tiny_model.parent / "nope"),
               "--embedder-target", embedder_target]
    assert await asyncio.to_thread(command_main, missing) == 1
    assert "no cross-encoder model at" in capsys.readouterr().err
