"""NDCG evaluation of the re-ranker: the metric on hand-made rankings, the evaluation-set format,
and a whole evaluation (and `scia-rag evaluate-reranker`) with a tiny model trained in the test."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import shutil

import pytest
from scia.rag.commands import main as command_main
from scia.rag.evaluation import ORDERINGS, EvaluationSet, best_vector_weight, dcg, evaluate, ndcg_at_k
from scia.rag.embedding import EmbedderClient
from scia.rag.reranker import CrossEncoderReranker
from scia.rag.training import Pair, train

from bench import rag as bench_rag
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
    """A cross-encoder fine-tuned for a few steps on scenario pairs (compact-v1 texts, as the bench
    makes them): proves the pipeline, not quality."""
    pairs = [Pair(**p) for p in bench_rag.scenario_training_pairs(4, seed=21, pool_records=200, apps=40)]
    output = tmp_path_factory.mktemp("models")
    train(pairs, output, epochs=1, batch_size=16, layers=2)
    return output / "current"


@pytest.fixture(scope="module")
def evaluation_file(tmp_path_factory):
    # With each record's and query's proto: what a compact-v1 model is fed from.
    items = bench_rag.structured_evaluation_items(22, records=60, queries=8, apps=12)
    return scenarios.write_jsonl(tmp_path_factory.mktemp("eval") / "eval.jsonl", items)


@ASYNC
async def test_evaluate_with_a_tiny_model(embedder_target, tiny_model, evaluation_file):
    evaluation_set = EvaluationSet.read(evaluation_file)
    reranker = CrossEncoderReranker(tiny_model)
    client = EmbedderClient(embedder_target, timeout=60)
    try:
        report = await evaluate(evaluation_set, client, reranker, candidates=10, k=5, vector_weights=[0.0, 0.5, 1.0])
        without_model = await evaluate(evaluation_set, client, None, candidates=10, k=5)
        texts_only = EvaluationSet(
            [dataclasses.replace(r, record=None) for r in evaluation_set.records], evaluation_set.queries
        )
        with pytest.raises(ValueError, match="compact-v1 needs the stored records"):
            await evaluate(texts_only, client, reranker, candidates=10, k=5)
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
    # The interpolation's ends are the orderings it blends: weight 1 is the vector order (relevance
    # from the similarity alone, ties by retrieval rank), weight 0 the model's own order; the
    # model's fitted weight (0 before fitting) serves the latter.
    curve = report["vector_weight_curve"]
    assert curve["1.0"] == report["vector"]["ndcg_at_5"]
    assert curve["0.0"] == report["cross_encoder"]["ndcg_at_5"] == report["cross_encoder_relevance"]["ndcg_at_5"]
    assert best_vector_weight(curve) in (0.0, 0.5, 1.0)


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


@ASYNC
async def test_fit_vector_weight_writes_the_best_weight_into_the_model(
    embedder_target, tiny_model, evaluation_file, tmp_path, capsys
):
    model = tmp_path / "model"
    shutil.copytree(tiny_model.resolve(), model)  # a copy: the module's model stays unfitted
    argv = ["evaluate-reranker", "--eval-set", str(evaluation_file), "--model", str(model),
            "--embedder-target", embedder_target, "--candidates", "10", "--fit-vector-weight", "--json"]
    assert await asyncio.to_thread(command_main, argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["vector_weight_curve"]) == 11
    assert report["vector_weight_fitted"] == best_vector_weight(report["vector_weight_curve"])
    low, high = report["score_range_fitted"]
    assert 0 <= low < high <= 1
    metadata = json.loads((model / "scia_training.json").read_text())
    assert metadata["vector_weight"] == report["vector_weight_fitted"]
    assert metadata["score_range"] == pytest.approx([low, high], abs=1e-6)
    assert metadata["vector_weight_fit"]["curve"] == report["vector_weight_curve"]
    fitted = CrossEncoderReranker(model)
    assert fitted.vector_weight == report["vector_weight_fitted"]
    # Served scores are stretched over the fitted range: the validation candidates span [0, 1].
    assert report["cross_encoder_scores"]["min"] == pytest.approx(0.0, abs=1e-5)
    assert report["cross_encoder_scores"]["max"] == pytest.approx(1.0, abs=1e-5)


def test_best_vector_weight_prefers_the_smaller_of_equals():
    assert best_vector_weight({"0.0": 0.7, "0.3": 0.8, "0.6": 0.8, "1.0": 0.75}) == 0.3
    with pytest.raises(ValueError, match="empty"):
        best_vector_weight({})
