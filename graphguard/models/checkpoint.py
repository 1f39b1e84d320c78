"""GraphSAGE checkpoints: the file format, writing one atomically and reading one safely.

A checkpoint holds only tensors, lists, dicts, strings and plain numbers, and is read with
``torch.load(..., weights_only=True)``, so loading one never runs code from the file. Format
`CHECKPOINT_FORMAT`, version `CHECKPOINT_VERSION`; a file of another format or version, or
with other labels or features than this code builds, is refused with a `CheckpointError` (a
`ValueError`) naming the file and what is wrong with it: not a graphguard checkpoint, empty,
truncated, another format version, written by a newer graphguard, or holding Python objects a
safe load refuses. No message ever suggests loading with ``weights_only=False``.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from graphguard.config import ConfigError
from graphguard.features.account import FEATURE_NAMES
from graphguard.models.device import resolve_device
from graphguard.schema import LABELS

if TYPE_CHECKING:
    from graphguard.models.detector import GraphSAGEDetector

CHECKPOINT_FORMAT = "graphguard.graphsage"
CHECKPOINT_VERSION = 1
#: what every checkpoint holds besides ``format`` and ``version``
_REQUIRED = (
    "params",
    "relations",
    "labels",
    "feature_names",
    "feature_mean",
    "feature_std",
    "state_dict",
    "best_epoch",
    "history",
)
#: the first bytes of a torch.save file (a zip archive)
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that is no usable checkpoint: names it and what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


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
        # optional (older checkpoints lack them): temperature 1, no operating points; since
        # the post-stratified operating point validation_scores also keeps
        # benign_evidence_risk (pipeline.train.validation_scores)
        "temperature": float(getattr(detector, "temperature_", 1.0)),
        "calibration": dict(getattr(detector, "calibration_", {})),
        "validation_scores": dict(getattr(detector, "validation_scores_", {})),
        "metadata": dict(metadata if metadata is not None else getattr(detector, "metadata_", {})),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
    return path


def _safe_load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``, its failures as `CheckpointError` (torch's own
    message, which suggests the unsafe ``weights_only=False``, is never passed on)."""
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {path} does not exist") from None
    if not head:
        raise CheckpointError(path, "is empty (0 bytes): not a graphguard checkpoint")
    is_zip = head == _ZIP_MAGIC
    try:
        with warnings.catch_warnings():  # torch warns on some non-checkpoints: one line only
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = "weights only" in str(exc).lower() or "weights_only" in str(exc)
        # a bare pickle (protocol 2+ starts with 0x80) is not a torch.save archive, but what it
        # holds is Python objects all the same; other bytes are just not a checkpoint
        if refused and (is_zip or head.startswith(b"\x80")):
            prefix = "" if is_zip else "not a graphguard checkpoint; "
            problem = (
                f"{prefix}refused to load: it holds Python objects (loading them could run code)"
            )
        else:
            problem = "not a graphguard checkpoint (not a file torch.save writes)"
    except EOFError:
        problem = "truncated: the file ends before the checkpoint does"
    except RuntimeError as exc:
        if is_zip:
            problem = "truncated or damaged: not a complete torch.save archive"
        else:
            problem = f"not a graphguard checkpoint (torch cannot read it: {str(exc)[:80]})"
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeError):
        problem = "not a graphguard checkpoint (not a file torch.save writes)"
    raise CheckpointError(path, problem)


def read_checkpoint(
    path: str | Path, *, feature_names: Sequence[str] | None = FEATURE_NAMES
) -> dict[str, Any]:
    """The checked contents of a checkpoint written by `save_checkpoint`.

    ``params`` comes back as the detector's keyword arguments, older spellings translated.
    ``feature_names`` are the features this code builds (None: any).
    """
    path = Path(path)
    checkpoint = _safe_load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        what = f" (its format is {found!r})" if isinstance(found, str) else ""
        raise CheckpointError(path, f"not a graphguard GraphSAGE checkpoint{what}")
    version = checkpoint.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CHECKPOINT_VERSION:
        raise CheckpointError(
            path,
            f"checkpoint format version {version} was written by a newer graphguard (this one "
            f"reads version {CHECKPOINT_VERSION}); upgrade graphguard to load it",
        )
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            path,
            f"checkpoint format version {version!r} unsupported (this graphguard reads version "
            f"{CHECKPOINT_VERSION})",
        )
    missing = [key for key in _REQUIRED if key not in checkpoint]
    if missing:
        raise CheckpointError(path, f"damaged checkpoint: it has no {missing[0]!r}")
    if tuple(checkpoint["labels"]) != LABELS:
        raise CheckpointError(path, f"labels {checkpoint['labels']} differ from {list(LABELS)}")
    stored = tuple(checkpoint["feature_names"])
    if feature_names is not None and stored != tuple(feature_names):
        raise CheckpointError(path, feature_mismatch(stored, feature_names))
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
        raise CheckpointError(path, f"{exc} (written by a newer graphguard?)") from None
    except ConfigError as exc:
        if exc.key.endswith(".device"):  # the caller's device, not the file's
            raise
        raise CheckpointError(path, f"holds settings out of range: {exc}") from None
    stored = tuple(checkpoint["feature_names"])
    detector.device_ = resolve_device(device)
    detector.feature_names_ = stored
    detector.n_features_in_ = len(stored)
    detector.feature_mean_ = checkpoint["feature_mean"].float()
    detector.feature_std_ = checkpoint["feature_std"].float()
    detector.relations_ = tuple(checkpoint["relations"])
    detector.model_ = detector._build_model()
    try:
        detector.model_.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            path, f"damaged checkpoint: its weights do not fit the network it describes ({first})"
        ) from None
    detector.model_.to(detector.device_).eval()
    detector.best_epoch_ = checkpoint["best_epoch"]
    detector.history_ = list(checkpoint["history"])
    detector.class_counts_ = [int(c) for c in checkpoint.get("class_counts", [])]
    detector.metadata_ = dict(checkpoint.get("metadata", {}))
    detector.temperature_ = float(checkpoint.get("temperature", 1.0))
    if not (detector.temperature_ > 0 and detector.temperature_ < float("inf")):
        raise CheckpointError(path, f"damaged checkpoint: temperature {detector.temperature_!r}")
    detector.calibration_ = dict(checkpoint.get("calibration", {}))
    detector.validation_scores_ = dict(checkpoint.get("validation_scores", {}))
    return detector
