"""GraphSAGE checkpoints: the file format, writing one atomically and reading one safely.

A checkpoint holds only tensors, lists, dicts, strings and plain numbers, and is read with
``torch.load(..., weights_only=True)``, so loading one never runs code from the file. Format
`CHECKPOINT_FORMAT`, version `CHECKPOINT_VERSION`; a file of another format or version, or
with other labels or features than this code builds, is refused with a `ValueError` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from graphguard.features.account import FEATURE_NAMES
from graphguard.models.device import resolve_device
from graphguard.schema import LABELS

if TYPE_CHECKING:
    from graphguard.models.detector import GraphSAGEDetector

CHECKPOINT_FORMAT = "graphguard.graphsage"
CHECKPOINT_VERSION = 1


def feature_mismatch(expected: Sequence[str], given: Sequence[str]) -> str:
    """How ``given`` feature names differ from a model's ``expected`` ones (they must differ)."""
    expected, given = list(expected), list(given)
    if len(expected) != len(given):
        return f"model has {len(expected)} features, inputs have {len(given)}"
    first = next(i for i, (a, b) in enumerate(zip(expected, given, strict=True)) if a != b)
    return f"feature {first} is {expected[first]!r} in the model but {given[first]!r} here"


def save_checkpoint(
    detector: GraphSAGEDetector, path: str | Path, *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write a fitted detector's weights, settings, normalisation, labels and feature names.

    Written to a temporary name and renamed into place, so a reader never sees half a file.
    ``metadata`` (plain values) defaults to what the detector was loaded with.
    """
    path = Path(path)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "params": detector.get_params(),
        "relations": list(detector.relations_),
        "labels": list(LABELS),
        "feature_names": list(detector.feature_names_),
        "feature_mean": detector.feature_mean_.cpu(),
        "feature_std": detector.feature_std_.cpu(),
        "state_dict": {k: v.detach().cpu() for k, v in detector.model_.state_dict().items()},
        "best_epoch": int(getattr(detector, "best_epoch_", 0)),
        "history": [dict(record) for record in getattr(detector, "history_", [])],
        "class_counts": list(getattr(detector, "class_counts_", [])),
        "metadata": dict(metadata if metadata is not None else getattr(detector, "metadata_", {})),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(
    path: str | Path, *, feature_names: Sequence[str] | None = FEATURE_NAMES
) -> dict[str, Any]:
    """The checked contents of a checkpoint written by `save_checkpoint`.

    ``params`` comes back as the detector's keyword arguments, older spellings translated.
    ``feature_names`` are the features this code builds (None: any).
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a graphguard GraphSAGE checkpoint")
    if checkpoint.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {checkpoint.get('version')} unsupported")
    if tuple(checkpoint["labels"]) != LABELS:
        raise ValueError(f"{path}: labels {checkpoint['labels']} differ from {list(LABELS)}")
    stored = tuple(checkpoint["feature_names"])
    if feature_names is not None and stored != tuple(feature_names):
        raise ValueError(f"{path}: {feature_mismatch(stored, feature_names)}")
    params = dict(checkpoint["params"])
    # early checkpoints named the selection score separately
    if params.pop("val_metric", "auprc") == "auroc" and params.get("select_on") == "auprc":
        params["select_on"] = "auroc"
    checkpoint["params"] = params
    return checkpoint


def load_detector(
    cls: type[GraphSAGEDetector],
    path: str | Path,
    *,
    feature_names: Sequence[str] | None = FEATURE_NAMES,
    device: str = "auto",
) -> GraphSAGEDetector:
    """A fitted ``cls`` from the checkpoint at ``path``, on ``device``; see `read_checkpoint`."""
    checkpoint = read_checkpoint(path, feature_names=feature_names)
    try:
        detector = cls(**{**checkpoint["params"], "device": device})
    except TypeError as exc:  # a setting this code does not know: a newer checkpoint
        raise ValueError(f"{path}: {exc}") from exc
    stored = tuple(checkpoint["feature_names"])
    detector.device_ = resolve_device(device)
    detector.feature_names_ = stored
    detector.n_features_in_ = len(stored)
    detector.feature_mean_ = checkpoint["feature_mean"].float()
    detector.feature_std_ = checkpoint["feature_std"].float()
    detector.relations_ = tuple(checkpoint["relations"])
    detector.model_ = detector._build_model()
    detector.model_.load_state_dict(checkpoint["state_dict"])
    detector.model_.to(detector.device_).eval()
    detector.best_epoch_ = checkpoint["best_epoch"]
    detector.history_ = list(checkpoint["history"])
    detector.class_counts_ = [int(c) for c in checkpoint.get("class_counts", [])]
    detector.metadata_ = dict(checkpoint.get("metadata", {}))
    return detector
