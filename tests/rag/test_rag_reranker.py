"""The cross-encoder: training pairs, `scia-rag train-reranker`, and the service using the model."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

import pytest
from scia.rag.commands import _records_from_store
from scia.rag.commands import main as command_main
from scia.rag.reranker import load_reranker
from scia.rag.training import Pair, pairs_from_records, point_current, read_pairs, train
from scia.v1 import rag_pb2

from tests.rag.factories import deployment_query, make_record
from tests.rag.harness import running_rag, tenant_name

ASYNC = pytest.mark.asyncio(loop_scope="module")
FRAMEWORKS = ["flask", "django", "fastapi", "gin", "echo", "express", "nextjs", "spring-boot", "rails"]


def corpus(tenant: str = "team-a"):
    records = []
    for i, framework in enumerate(FRAMEWORKS * 2):
        record = make_record(tenant, framework, prompt=f"{framework} service number {i}")
        record.id = f"00000000-0000-4000-8000-{i:012d}"
        records.append(record)
    return records


def test_pairs_from_records_label_by_stack():
    records = corpus()
    pairs = pairs_from_records(records, negatives=3, seed=1)
    assert len(pairs) == len(records) * (1 + 1 + 3)
    flask_query = next(p.query for p in pairs if p.query.startswith("flask"))
    labelled = [p for p in pairs if p.query == flask_query]
    assert all(p.label == 1.0 for p in labelled if p.text.startswith("flask"))
    assert {p.label for p in labelled if p.text.startswith(("django", "fastapi"))} <= {0.5}
    assert {p.label for p in labelled if p.text.startswith(("gin", "express", "rails"))} <= {0.0}
    assert pairs_from_records(records, seed=1) == pairs  # deterministic


def test_read_pairs_names_the_bad_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"query": "q", "text": "t", "label": 1}\n\n{"query": "q", "text": "t", "label": 3}\n')
    with pytest.raises(ValueError, match="pairs.jsonl:3: label must be in"):
        read_pairs(path)
    path.write_text('{"query": "q"}\n')
    with pytest.raises(ValueError, match="pairs.jsonl:1: not a"):
        read_pairs(path)


def test_current_symlink_is_replaced(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    point_current(tmp_path, "v1")
    point_current(tmp_path, "v2")
    assert (tmp_path / "current").resolve() == (tmp_path / "v2").resolve()


def test_missing_model_is_reported(tmp_path):
    loaded = load_reranker(tmp_path / "nothing")
    assert loaded.reranker is None and "no cross-encoder model at" in loaded.reason
    assert "disabled" in load_reranker(tmp_path, enabled=False).reason


@ASYNC
async def test_train_then_serve_with_the_cross_encoder(tmp_path, capsys, monkeypatch, rag_dsn, embedder_target):
    pairs_file = tmp_path / "pairs.jsonl"
    # One optimisation step is enough to prove the pipeline; quality is not judged on 16 pairs.
    pairs = pairs_from_records(corpus(), negatives=1, seed=0)[:16]
    pairs_file.write_text("\n".join(json.dumps(asdict(p)) for p in pairs))
    models = tmp_path / "models"
    argv = [
        "train-reranker",
        "--pairs",
        str(pairs_file),
        "--output-dir",
        str(models),
        "--batch-size",
        "16",
        "--max-length",
        "128",
        "--min-pairs",
        "16",
        "--epochs",
        "1",
    ]
    assert await asyncio.to_thread(command_main, argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == len(pairs) and report["version"].startswith("v")
    assert (report["epochs"], report["head_learning_rate"], report["warmup_share"]) == (1, 1e-3, 0.1)
    assert (models / "current").resolve().name == report["version"]
    assert (models / report["version"] / "scia_training.json").is_file()

    async with running_rag(
        dsn=rag_dsn, embedder_target=embedder_target, reranker_enabled=True, reranker_model_path=models / "current"
    ) as rag:
        tenant = tenant_name()
        for record in corpus(tenant):
            record.ClearField("id")
            await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))
        assert stats.reranker == f"cross-encoder:{report['version']}"
        for rerank in (rag_pb2.RetrieveRequest.RERANK_UNSPECIFIED, rag_pb2.RetrieveRequest.RERANK_CROSS_ENCODER):
            found = await rag.stub.Retrieve(
                rag_pb2.RetrieveRequest(
                    tenant=tenant, deployment=deployment_query("flask", "Flask service"), rerank=rerank, limit=5
                )
            )
            assert found.reranker == stats.reranker
            assert all(0 <= r.components.relevance <= 1 for r in found.results)
            assert len({round(r.components.relevance, 6) for r in found.results}) > 1  # model scores, not a constant
        features = await rag.stub.Retrieve(
            rag_pb2.RetrieveRequest(tenant=tenant, text="flask", rerank=rag_pb2.RetrieveRequest.RERANK_FEATURES)
        )
        assert features.reranker == "features"

    # `train-reranker --tenant T` learns from the stored deployments (read through SCIA_RAG_DSN).
    monkeypatch.setenv("SCIA_RAG_DSN", rag_dsn)
    stored = await _records_from_store([tenant], 1000)
    assert len(stored) == len(FRAMEWORKS) * 2
    assert len(pairs_from_records(stored, negatives=2)) == len(stored) * 4


def test_training_settings_are_checked_before_any_model_is_loaded(tmp_path):
    pairs = [Pair("flask api", "flask application", 1.0)]
    with pytest.raises(ValueError, match="no training pairs"):
        train([], tmp_path)
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"warmup_share": 1.0}):
        with pytest.raises(ValueError, match="epochs and batch_size"):
            train(pairs, tmp_path, **bad)
    assert not any(tmp_path.iterdir())


def test_pair_is_a_value():
    assert Pair("q", "t", 1.0) == Pair("q", "t", 1.0)
