"""Training: labelled events -> pipeline stages -> account features -> a fitted GraphSAGE model.

The model sees the same stages `detect` builds (the account graph, the communities and their
evidence), so a checkpoint trained here scores any other log through ``detect --model``. The
checkpoint stores, besides the weights, the pipeline config its features were built with and
what it was trained on; `config_drift` names the settings a later run changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from graphguard import __version__, schema
from graphguard.config import DetectConfig, to_dict
from graphguard.features.account import FEATURE_NAMES
from graphguard.graph.inputs import GraphInputs, graph_inputs, label_codes
from graphguard.graph.projections import RELATIONS
from graphguard.io import load_events, load_labels
from graphguard.models.detector import GraphSAGEDetector
from graphguard.models.params import param_names
from graphguard.outputs import output_guard
from graphguard.pipeline.stages import Stages, StageTimer, build_stages, label_warnings

Progress = Callable[[str], None]

#: pipeline settings that change what the features mean; a model scoring a run built with
#: other values gets a warning (the flag threshold and the fusion rule do not matter here)
FEATURE_SECTIONS = ("graph", "community", "scoring")
_NOT_FEATURES = {
    "scoring.risk_threshold",
    "scoring.fusion",
    "scoring.target_fpr",
    "scoring.target_precision",
}


def build_detector(params: Mapping[str, Any], **overrides: Any) -> GraphSAGEDetector:
    """A `GraphSAGEDetector` from the ``model`` config section; unknown keys are named."""
    params = {**dict(params), **overrides}
    known = set(param_names()) | {"progress"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown setting model.{unknown[0]}; known: {', '.join(sorted(known))}")
    return GraphSAGEDetector(**params)


@dataclass
class TrainResult:
    """A fitted detector and what it was fitted on."""

    detector: GraphSAGEDetector
    stages: Stages
    features: pl.DataFrame
    inputs: GraphInputs
    y: np.ndarray
    timer: StageTimer
    #: what the user should know about the input (the CLI prints them); never printed here
    warnings: list[str] = field(default_factory=list)

    def label_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y[self.y >= 0], minlength=len(schema.LABELS))
        return {label: int(n) for label, n in zip(schema.LABELS, counts, strict=True)}


def train_detector(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    config: DetectConfig,
    model_params: Mapping[str, Any],
    *,
    feature_names: Sequence[str] = FEATURE_NAMES,
    relations: Sequence[str] = RELATIONS,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> TrainResult:
    """Build the pipeline stages of ``events`` and fit GraphSAGE on the labelled accounts.

    Args:
        events: validated events (`load_events`).
        labels: account_id and label (`load_labels`); other accounts are unlabelled.
        config: the pipeline config the features are built with.
        model_params: `GraphSAGEDetector` arguments (the ``model`` config section).
        feature_names: the feature columns the model reads (`select_features`).
        relations: account-graph relations kept apart (``("any",)`` merges them).
    """
    check_training_labels(label_codes(events.get_column(schema.ACCOUNT).unique(), labels))
    timer = timer or StageTimer()
    stages = build_stages(events, config, progress=progress, timer=timer)
    with timer.stage("features", progress):
        features = stages.features()
        inputs = graph_inputs(
            features,
            stages.graph.edges,
            feature_names=feature_names,
            relations=relations,
            edge_attrs=bool(dict(model_params).get("edge_gate", False)),
        )
        y = label_codes(stages.account_ids, labels)
    if not (y >= 0).any():
        raise ValueError("none of the labelled accounts appears in the events")
    detector = build_detector(model_params, progress=progress)
    with timer.stage("train", progress):
        detector.fit(inputs, y)
        detector.validation_scores_ = validation_scores(detector, stages, inputs, y)
    return TrainResult(detector, stages, features, inputs, y, timer, list(stages.warnings))


def validation_scores(
    detector: GraphSAGEDetector, stages: Stages, inputs: GraphInputs, y: np.ndarray
) -> dict[str, list]:
    """The validation accounts' calibrated model risk, evidence risk and truth (abusive or not):
    what `pipeline.operating` re-derives a flag threshold from for any target and fusion,
    without retraining. Validation is `GraphSAGEDetector.validation_split` (what `fit` held
    out). ``benign_evidence_risk``: the evidence risk of every labelled benign account,
    training and validation (the evidence uses no labels, so the training accounts measure its
    benign tail as honestly as the validation ones, and there are many more of them), sorted;
    `models.calibration.stratified_point` estimates the evidence's share of the FPR on it."""
    val = np.flatnonzero(detector.validation_split(y))
    accounts = stages.scores().sort("account")
    evidence = accounts.get_column("risk").fill_null(0.0).clip(0.0, 1.0).to_numpy()
    model_risk = 1.0 - detector.predict_proba(inputs)[:, schema.LABELS.index(schema.BENIGN)]
    return {
        "model_risk": [float(v) for v in model_risk[val]],
        "evidence_risk": [float(v) for v in evidence[val]],
        "abusive": [bool(v) for v in y[val] != schema.LABELS.index(schema.BENIGN)],
        "benign_evidence_risk": [
            float(v) for v in np.sort(evidence[y == schema.LABELS.index(schema.BENIGN)])
        ],
    }


def check_training_labels(y: np.ndarray) -> None:
    """Refuse labels a model cannot learn from, before any work: none of them in the events, or
    no benign or no abusive account among them (a model of one side flags every account, or
    none). A class with too few accounts for the validation split (fewer than
    1 / ``train.val_fraction``) still trains: all of it goes to training, and the epoch is
    kept on what validation holds (its AUPRC is n/a without both sides)."""
    if not (y >= 0).any():
        raise ValueError("none of the labelled accounts appears in the events")
    counts = np.bincount(y[y >= 0], minlength=len(schema.LABELS))
    benign = counts[schema.LABELS.index(schema.BENIGN)]
    if benign == 0 or benign == counts.sum():
        present = ", ".join(
            f"{int(n):,} {label}" for label, n in zip(schema.LABELS, counts, strict=True) if n
        )
        missing = "benign" if benign == 0 else "abusive (" + ", ".join(schema.LABELS[1:]) + ")"
        raise ValueError(
            f"the labels of accounts in the events hold only {present}: training needs benign "
            f"and abusive accounts, and there is no {missing} one (a model of one side would "
            "flag every account or none)"
        )


def checkpoint_metadata(
    result: TrainResult,
    config: DetectConfig,
    *,
    events_path: Any = None,
    labels_path: Any = None,
    label_stats: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """What a checkpoint records besides the weights (plain values only)."""
    detector = result.detector
    history = getattr(detector, "history_", [])
    return {
        "graphguard_version": __version__,
        "config": {k: v for k, v in to_dict(config).items() if k in FEATURE_SECTIONS},
        "trained": {
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "events": None if events_path is None else str(events_path),
            "labels": None if labels_path is None else str(labels_path),
            "n_accounts": result.stages.n_accounts,
            "labelled": result.label_counts(),
            "label_file": dict(label_stats or {}),
            "epochs_run": len(history),
            "best_epoch": int(getattr(detector, "best_epoch_", 0)),
            "best_val_auprc": getattr(detector, "best_val_auprc_", None),
            "train_seconds": result.timer.seconds().get("train"),
            "full_batch": bool(getattr(detector, "full_batch_", True)),
            "device": str(getattr(detector, "device_", "cpu")),
        },
    }


def run_training(
    events_path: str | Path,
    labels_path: str | Path,
    model_path: str | Path,
    config: DetectConfig,
    model_params: Mapping[str, Any],
    *,
    feature_names: Sequence[str] = FEATURE_NAMES,
    relations: Sequence[str] = RELATIONS,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Read events and labels, train, and write the checkpoint ``model_path`` atomically.

    ``model_path`` is checked before anything is read (`graphguard.outputs.check_output`: not an
    input, not a directory, in a place a file can be written) and locked against a second run.
    """
    model_path = Path(model_path)
    with output_guard(
        model_path, kind="file", inputs=[events_path, labels_path], overwrite=overwrite
    ):
        return _train_and_save(
            events_path,
            labels_path,
            model_path,
            config,
            model_params,
            feature_names=feature_names,
            relations=relations,
            progress=progress,
        )


def _train_and_save(
    events_path: str | Path,
    labels_path: str | Path,
    model_path: Path,
    config: DetectConfig,
    model_params: Mapping[str, Any],
    *,
    feature_names: Sequence[str],
    relations: Sequence[str],
    progress: Progress | None,
) -> TrainResult:
    timer = StageTimer()
    with timer.stage("read", progress):
        events, _, _ = load_events(events_path, config.data)
    with timer.stage("labels", progress):
        labels, label_stats = load_labels(
            labels_path, known_accounts=events.get_column(schema.ACCOUNT).unique()
        )
    start = time.perf_counter()
    result = train_detector(
        events,
        labels,
        config,
        model_params,
        feature_names=feature_names,
        relations=relations,
        progress=progress,
        timer=timer,
    )
    result.warnings.extend(label_warnings(label_stats, "they are not trained on"))
    metadata = checkpoint_metadata(
        result, config, events_path=events_path, labels_path=labels_path, label_stats=label_stats
    )
    metadata["trained"]["total_seconds"] = round(time.perf_counter() - start, 3)
    result.detector.metadata_ = metadata
    result.detector.save(model_path, metadata=metadata)
    return result


def load_model(path: str | Path, *, device: str = "auto") -> GraphSAGEDetector:
    """A checkpoint from `run_training`, with a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    detector = GraphSAGEDetector.load(path, feature_names=None, device=device)
    unknown = [name for name in detector.feature_names_ if name not in FEATURE_NAMES]
    if unknown:
        raise ValueError(
            f"{path}: the model reads feature {unknown[0]!r}, which this graphguard does not build"
        )
    detector.metadata_["path"] = str(path)
    return detector


def config_drift(model: GraphSAGEDetector, config: DetectConfig) -> list[str]:
    """``key: trained -> now`` for each feature-relevant setting that differs from training."""
    trained = (getattr(model, "metadata_", {}) or {}).get("config") or {}
    now = to_dict(config)
    drift = []
    for section in FEATURE_SECTIONS:
        for key, value in _flatten(now.get(section, {}), section).items():
            if key in _NOT_FEATURES:
                continue
            before = _flatten(trained.get(section, {}), section).get(key, value)
            if _plain(before) != _plain(value):
                drift.append(f"{key}: {before!r} -> {value!r}")
    return drift


def _flatten(mapping: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value
