"""The cross-encoder: training pairs, `scia-rag train-reranker`, and the service using the model."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime

import grpc
import pytest
from scia.rag.commands import _records_from_store
from scia.rag.commands import main as command_main
from scia.rag.ranking import CandidateFeatures, relevance_of
from scia.rag.rerank_input import dependency_difference, pair_inputs, short_dependency
from scia.rag.reranker import CrossEncoderReranker, UnusableModel, load_reranker, read_metadata, relevance
from scia.rag.training import Pair, pairs_from_records, point_current, read_pairs, train, truncate_layers
from scia.v1 import common_pb2, rag_pb2

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
        "--layers",
        "2",
    ]
    assert await asyncio.to_thread(command_main, argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == len(pairs) and report["version"].startswith("v")
    assert (report["epochs"], report["head_learning_rate"], report["warmup_share"]) == (1, 1e-3, 0.1)
    assert (models / "current").resolve().name == report["version"]
    # What the service must feed the model is recorded with it.
    metadata = json.loads((models / report["version"] / "scia_training.json").read_text())
    assert (metadata["input_format"], metadata["max_length"], metadata["layers"]) == ("compact-v1", 128, 2)
    # Truncated for real: the saved model has 2 transformer layers, and loads with 2.
    assert json.loads((models / report["version"] / "config.json").read_text())["num_hidden_layers"] == 2

    async with running_rag(
        dsn=rag_dsn, embedder_target=embedder_target, reranker_enabled=True, reranker_model_path=models / "current"
    ) as rag:
        tenant = tenant_name()
        for record in corpus(tenant):
            record.ClearField("id")
            await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))
        assert stats.reranker == f"cross-encoder:{report['version']}"
        served = rag.app.servicer.reranker
        assert served.quantized and served.input_format == "compact-v1"  # the defaults
        assert len(served._model.model.base_model.encoder.layer) == 2
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


# --- the input format and the model metadata -----------------------------------------------------


def fake_model_folder(path, metadata: dict | None):
    """A folder that looks like a model to `load_reranker` (no weights: the metadata is checked
    before anything is loaded, so a refused model costs no load)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    if metadata is not None:
        (path / "scia_training.json").write_text(json.dumps(metadata))
    return path


def test_unknown_or_missing_input_format_is_refused(tmp_path):
    unknown = load_reranker(fake_model_folder(tmp_path / "future", {"input_format": "compact-v9", "max_length": 128}))
    assert unknown.reranker is None and unknown.refused
    assert "compact-v9" in unknown.reason and "does not know" in unknown.reason
    missing = load_reranker(fake_model_folder(tmp_path / "foreign", None))
    assert missing.reranker is None and missing.refused and "scia_training.json" in missing.reason
    bad = load_reranker(fake_model_folder(tmp_path / "long", {"input_format": "compact-v1", "max_length": 4096}))
    assert bad.refused and "max_length 4096" in bad.reason
    absent = load_reranker(tmp_path / "nothing")
    assert not absent.refused  # no model is not a problem to report on every call


def test_metadata_of_models_from_before_formats_is_the_embedding_text_format(tmp_path):
    folder = fake_model_folder(tmp_path / "old", {"version": "v1", "pairs": 10})
    metadata = read_metadata(folder)
    assert (metadata.input_format, metadata.max_length, metadata.vector_weight) == ("embedding-text", 256, 0.0)
    with pytest.raises(UnusableModel, match="vector_weight 1.5"):
        read_metadata(fake_model_folder(tmp_path / "w", {"input_format": "compact-v1", "vector_weight": 1.5}))
    with pytest.raises(UnusableModel, match=r"score_range \[0.6, 0.4\]"):
        read_metadata(fake_model_folder(tmp_path / "r", {"input_format": "compact-v1", "score_range": [0.6, 0.4]}))


def test_relevance_stretches_the_model_score_over_its_fitted_range():
    assert relevance(0.3, None) == 0.3
    assert relevance(0.3, (0.2, 0.6)) == pytest.approx(0.25)
    assert relevance(0.1, (0.2, 0.6)) == 0.0 and relevance(0.9, (0.2, 0.6)) == 1.0


@ASYNC
async def test_service_with_a_refused_model_says_why_and_uses_features(tmp_path, rag_dsn, embedder_target):
    folder = fake_model_folder(tmp_path / "model", {"input_format": "compact-v9", "max_length": 128})
    async with running_rag(
        dsn=rag_dsn, embedder_target=embedder_target, reranker_enabled=True, reranker_model_path=folder
    ) as rag:
        tenant = tenant_name()
        record = corpus(tenant)[0]
        record.ClearField("id")
        await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        found = await rag.stub.Retrieve(
            rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("flask", "Flask service"))
        )
        assert found.reranker == "features" and len(found.results) == 1
        assert any("compact-v9" in note and "re-ranked by features" in note for note in found.notes)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await rag.stub.Retrieve(
                rag_pb2.RetrieveRequest(
                    tenant=tenant, text="flask", rerank=rag_pb2.RetrieveRequest.RERANK_CROSS_ENCODER
                )
            )
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "compact-v9" in raised.value.details()


def test_compact_texts_hold_the_deciding_fields():
    query = deployment_query("flask", "Deploy our Flask shop API for 4000 daily users on AWS", budget=300)
    query.analysis.applications[0].dependencies.add(name="pandas")
    record = make_record(
        "t", "flask", prompt="flask reports with heavy exports", outcome=common_pb2.OUTCOME_FAILED,
        reason="OOMKilled on t3.small", cost=40,
    )
    record.analysis.applications[0].dependencies.add(name="stripe")
    asked, texts = pair_inputs("compact-v1", query, [(record, "ignored")])
    assert asked == "flask python. shop api 4000 daily users. budget 300 usd. aws"
    text = texts[0]
    assert text.startswith("flask python. deps +stripe -pandas. reports heavy exports. vm aws 1 x t3.small")
    assert text.endswith("cost 40 usd. failed: oomkilled on t3.small")
    same = make_record("t", "flask", prompt="x")
    assert "same deps" in pair_inputs("compact-v1", deployment_query("flask", "x"), [(same, "")])[1][0]
    # A free-text query names no dependencies: the record's are listed.
    free_query, free_texts = pair_inputs("compact-v1", "Flask  API", [(same, "")])
    assert free_query == "flask api" and "deps flask gunicorn sqlalchemy psycopg2-binary" in free_texts[0]
    # The old format is the stored embedding text as is.
    assert pair_inputs("embedding-text", query, [(None, "stored text")])[1] == ["stored text"]


def test_input_format_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown cross-encoder input format 'v0'"):
        pair_inputs("v0", "q", [])
    with pytest.raises(ValueError, match="compact-v1 needs the stored records"):
        pair_inputs("compact-v1", "q", [(None, "text only")])


def test_short_dependency_names():
    assert short_dependency("org.apache.poi:poi-ooxml") == "poi-ooxml"
    assert short_dependency("github.com/stripe/stripe-go/v78") == "stripe-go"
    assert short_dependency("@tensorflow/tfjs-node") == "tensorflow/tfjs-node"
    assert short_dependency("pandas") == "pandas"
    assert dependency_difference(["a", "b"], ["a", "b"]) == "same deps"
    assert dependency_difference(["a", "b"], ["a", "c", "d", "e", "f", "g"]) == "deps +c +d +e +f -b"


def test_relevance_interpolates_the_model_with_the_vector_similarity():
    candidate = CandidateFeatures(id="a", created_at=datetime.now(UTC), monthly_cost=0, outcome=0, similarity=0.85)
    # similarity 0.85 over floor 0.7 -> 0.5
    assert relevance_of(candidate, 0.0, 0.9, 0.7) == pytest.approx(0.9)
    assert relevance_of(candidate, 0.0, 0.9, 0.7, vector_weight=0.25) == pytest.approx(0.75 * 0.9 + 0.25 * 0.5)
    no_vector = CandidateFeatures(id="b", created_at=datetime.now(UTC), monthly_cost=0, outcome=0)
    assert relevance_of(no_vector, 0.3, 0.9, 0.7, vector_weight=0.25) == pytest.approx(0.9)


# --- the small model: truncation and int8 -----------------------------------------------------------


def test_truncate_layers_keeps_the_first_layers():
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                        intermediate_size=32, num_labels=1)
    model = BertForSequenceClassification(config)
    first = model.bert.encoder.layer[0]
    assert truncate_layers(model, 2) == 2
    assert len(model.bert.encoder.layer) == 2 and model.config.num_hidden_layers == 2
    assert model.bert.encoder.layer[0] is first  # the lower, general layers are the ones kept
    assert truncate_layers(model, None) == 2
    with pytest.raises(ValueError, match="has 2 layers, fewer than the 3 asked for"):
        truncate_layers(model, 3)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """One optimisation step of a 1-layer model: proves the pipeline, not quality."""
    pairs = pairs_from_records(corpus(), negatives=1, seed=0)[:16]
    output = tmp_path_factory.mktemp("tiny-models")
    train(pairs, output, epochs=1, batch_size=16, layers=1)
    return output / "current"


def test_int8_model_orders_like_fp32(tiny_model):
    import torch

    query = deployment_query("flask", "Flask service for 200 users")
    candidates = [(record, "") for record in corpus()]
    fp32 = CrossEncoderReranker(tiny_model)
    int8 = CrossEncoderReranker(tiny_model, quantize=True)
    quantized_linear = torch.ao.nn.quantized.dynamic.Linear
    assert any(isinstance(m, quantized_linear) for m in int8._model.model.modules())
    assert not any(isinstance(m, quantized_linear) for m in fp32._model.model.modules())
    a = fp32.score_candidates(query, candidates)
    b = int8.score_candidates(query, candidates)
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 0.05
    spread = max(a) - min(a)
    assert spread > 0  # different inputs, different scores: the comparison below means something
    # Same order for every pair of candidates whose fp32 scores are apart by more than the
    # quantisation error (near-ties may swap).
    for i in range(len(a)):
        for j in range(len(a)):
            if a[i] - a[j] > 0.02:
                assert b[i] > b[j]


def test_layers_and_format_are_checked_before_training(tmp_path):
    pairs = [Pair("flask api", "flask application", 1.0)]
    with pytest.raises(ValueError, match="unknown input format 'v9'"):
        train(pairs, tmp_path, input_format="v9")
    with pytest.raises(ValueError, match="layers must be at least 1"):
        train(pairs, tmp_path, layers=0)
    with pytest.raises(ValueError, match="max_length must be in 8-512"):
        train(pairs, tmp_path, max_length=1024)
    assert not any(tmp_path.iterdir())
