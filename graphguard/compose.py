"""Compose graphguard's Hydra config (conf/) and turn it into the typed stage configs.

Used by the CLI and the experiment entry point only, so that flags, `--set` overrides and
`python -m graphguard.experiment key=value` all go through one composition and always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from graphguard.config import (
    CommunityConfig,
    DataConfig,
    DetectConfig,
    GraphConfig,
    ScoringConfig,
    from_mapping,
)


def config_dir() -> Path:
    """conf/ shipped inside the package (wheel installs) or beside it (a source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError("graphguard's conf/ directory was not found next to the package")


def compose_config(overrides: Sequence[str] = (), *, config_name: str = "config") -> DictConfig:
    """Compose ``config_name`` with Hydra override strings (e.g. ``community.resolution=0.5``)."""
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def as_container(cfg: DictConfig | dict[str, Any], key: str) -> dict[str, Any]:
    section = cfg.get(key, {})
    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True)  # type: ignore[return-value]
    return dict(section)


def detect_config(cfg: DictConfig) -> DetectConfig:
    """The DetectConfig described by a composed config."""
    return DetectConfig(
        data=from_mapping(DataConfig, as_container(cfg, "data"), section="data"),
        graph=from_mapping(GraphConfig, as_container(cfg, "graph"), section="graph"),
        community=from_mapping(
            CommunityConfig, as_container(cfg, "community"), section="community"
        ),
        scoring=from_mapping(ScoringConfig, as_container(cfg, "scoring"), section="scoring"),
    )


def model_params(cfg: DictConfig) -> dict[str, Any]:
    """`GraphSAGEDetector` arguments: the ``model`` section (network) plus ``train``."""
    model, train = as_container(cfg, "model"), as_container(cfg, "train")
    both = sorted(set(model) & set(train))
    if both:
        raise ValueError(f"model.{both[0]} and train.{both[0]} both set; keep one")
    return {**model, **train}


def feature_names(cfg: DictConfig) -> tuple[str, ...]:
    """The feature columns the model reads: all but ``features.exclude``."""
    from graphguard.features.account import select_features

    return select_features(as_container(cfg, "features").get("exclude") or ())


def feature_relations(cfg: DictConfig) -> tuple[str, ...]:
    """The account-graph relations the model keeps apart (``features.relations``)."""
    from graphguard.graph.projections import ANY_RELATION, RELATIONS

    relations = tuple(as_container(cfg, "features").get("relations") or RELATIONS)
    unknown = [r for r in relations if r not in (*RELATIONS, ANY_RELATION)]
    if unknown:
        raise ValueError(
            f"features.relations: unknown relation {unknown[0]!r}; "
            f"choose from {', '.join((*RELATIONS, ANY_RELATION))}"
        )
    return relations
