"""Compose graphguard's Hydra config (conf/) and turn it into the typed settings.

Used by the CLI and the experiment entry point only (the modules that know Hydra), so that
flags, `--set` overrides and `python -m graphguard.experiment key=value` all go through one
composition and always agree.

Every default lives once, in a dataclass: the pipeline stages in `graphguard.config`, the
world in `graphguard.simulate.SimulationConfig`, the detector in
`graphguard.models.params.GraphSAGEParams` (split into the ``model`` and ``train`` groups by
each field's metadata), the experiment section in `graphguard.evaluation.harness`, and
``paths`` here. They are registered as Hydra structured configs, each as the option ``default``
of its group, so composing checks every key and every type; conf/ holds only the root defaults
list and named alternatives that extend a default (``defaults: [default, _self_]``). `settings`
is the one conversion from a composed config to the objects library code takes.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from graphguard.config import (
    CommunityConfig,
    DataConfig,
    DetectConfig,
    FeatureConfig,
    GraphConfig,
    ScoringConfig,
)
from graphguard.evaluation.harness import ExperimentConfig
from graphguard.features.account import select_features
from graphguard.models.params import MODEL_GROUP, TRAIN_GROUP, GraphSAGEParams
from graphguard.simulate import SimulationConfig


@dataclass
class PathsConfig:
    """Where the experiments write and read."""

    #: experiments write into <experiments_dir>/<experiment.name>
    experiments_dir: str = "experiments"
    #: third-party datasets of the real-data experiments (tolokers, reddit, yelpchi)
    shared_data: str = "${oc.env:GRAPHGUARD_SHARED_DATA,../shared/data}"


def _group_schema(group: str) -> type:
    """A dataclass of the `GraphSAGEParams` fields of one config group (same types and
    defaults), so the ``model`` and ``train`` groups never list a parameter again."""
    hints = typing.get_type_hints(GraphSAGEParams)
    specs = []
    for f in dataclasses.fields(GraphSAGEParams):
        if f.metadata["group"] != group:
            continue
        if f.default_factory is not dataclasses.MISSING:
            spec = field(default_factory=f.default_factory, metadata=f.metadata)
        else:
            spec = field(default=f.default, metadata=f.metadata)
        specs.append((f.name, hints[f.name], spec))
    return dataclasses.make_dataclass(f"{group.title()}Params", specs)


ModelParams = _group_schema(MODEL_GROUP)
TrainParams = _group_schema(TRAIN_GROUP)

#: config group -> the dataclass registered as its option ``default``
GROUPS: dict[str, type] = {
    "data": DataConfig,
    "graph": GraphConfig,
    "community": CommunityConfig,
    "scoring": ScoringConfig,
    "features": FeatureConfig,
    "model": ModelParams,
    "train": TrainParams,
    "simulate": SimulationConfig,
    "paths": PathsConfig,
}


def _writable(node: DictConfig) -> DictConfig:
    """OmegaConf makes the node of a frozen dataclass read-only, so no override could change
    it; the objects `settings` builds from it are frozen all the same."""
    OmegaConf.set_readonly(node, False)
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _writable(child)
    return node


def register() -> None:
    """Store every group's schema as ``<group>/default``, and ``experiment_schema``."""
    store = ConfigStore.instance()
    for group, schema in GROUPS.items():
        store.store(group=group, name="default", node=_writable(OmegaConf.structured(schema)))
    # the experiment section, under its key; conf/experiments.yaml lists it before the
    # experiment file that fills it in (the name has no default)
    store.store(
        name="experiment_schema", node=OmegaConf.structured(ExperimentConfig), package="experiment"
    )


register()


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


@dataclass(frozen=True)
class Settings:
    """Everything a composed config describes, as the objects library code takes."""

    detect: DetectConfig
    features: FeatureConfig
    #: the feature columns the model reads: all but those ``features.exclude`` matches
    feature_names: tuple[str, ...]
    #: the ``model`` and ``train`` groups together: `GraphSAGEDetector`'s arguments
    params: GraphSAGEParams
    simulate: SimulationConfig
    paths: PathsConfig
    #: the ``experiment`` section (conf/experiments.yaml only)
    experiment: ExperimentConfig | None = None


def settings(cfg: DictConfig) -> Settings:
    """The one conversion of a composed config: `OmegaConf.to_object` builds every group's
    dataclass (interpolations resolved, each dataclass's own checks run), the ``model`` and
    ``train`` groups are joined into one `GraphSAGEParams`, and ``features.exclude`` is applied
    (a pattern that matches no feature fails here)."""
    _no_unknown_keys(cfg)
    objects = OmegaConf.to_object(cfg)
    assert isinstance(objects, dict)
    params = {**vars(objects["model"]), **vars(objects["train"])}
    features = objects["features"]
    return Settings(
        detect=DetectConfig(
            data=objects["data"],
            graph=objects["graph"],
            community=objects["community"],
            scoring=objects["scoring"],
        ),
        features=features,
        feature_names=select_features(features.exclude),
        params=GraphSAGEParams(**params),
        simulate=objects["simulate"],
        paths=objects["paths"],
        experiment=objects.get("experiment"),
    )


def _no_unknown_keys(node: DictConfig, path: str = "") -> None:
    """Name a key no dataclass field holds. Struct mode stops a plain override of an unknown
    key, but ``+key=value`` adds one, which `OmegaConf.to_object` would set as an attribute."""
    schema = OmegaConf.get_type(node)
    known: set[str] | None = None
    if not path:  # the root: the groups, and the experiment section where it is composed
        typed = "experiment" in node and OmegaConf.get_type(node, "experiment") is ExperimentConfig
        known = set(GROUPS) | ({"experiment"} if typed else set())
    elif schema is not None and dataclasses.is_dataclass(schema):
        known = {f.name for f in dataclasses.fields(schema)}
    if known is not None:
        unknown = sorted(str(key) for key in node if key not in known)
        if unknown:
            raise ValueError(
                f"unknown setting {path}{unknown[0]}; known: {', '.join(sorted(known))}"
            )
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _no_unknown_keys(child, f"{path}{key}.")
