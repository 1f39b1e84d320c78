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
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from graphguard.config import (
    CasesConfig,
    CommunityConfig,
    ConfigError,
    DataConfig,
    DenseConfig,
    DetectConfig,
    FeatureConfig,
    GraphConfig,
    LocalConfig,
    ScoringConfig,
    SparkConfig,
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
    "spark": SparkConfig,
    "local": LocalConfig,
    "features": FeatureConfig,
    "model": ModelParams,
    "train": TrainParams,
    "simulate": SimulationConfig,
    "paths": PathsConfig,
    "dense": DenseConfig,
    "cases": CasesConfig,
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
    # the root key ``engine`` (``engine=spark``, ``--set engine=spark``) with `DetectConfig`'s
    # default (a plain node: a typed one would make the whole root that type); its values are
    # checked by `DetectConfig`. conf/config.yaml lists it first.
    store.store(name="engine_schema", node={"engine": DetectConfig.engine})
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
    """Compose ``config_name`` with Hydra override strings (e.g. ``community.resolution=0.5``).

    An override of the wrong type is a `ConfigError` whose one line names the key and what it
    takes (Hydra's own first line, "Error merging override ...", says neither). A list setting
    takes a list: ``graph.engagement_types=like`` is refused with the spelling that works,
    ``graph.engagement_types=[like]`` (a bare ``like,comment`` would be a Hydra sweep, so a bare
    value cannot mean a list consistently).
    """
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        try:
            return compose(config_name=config_name, overrides=list(overrides))
        except HydraException as exc:
            error = _override_error(exc)
            if error is None:
                raise
            raise error from exc


class OverrideError(ConfigError, HydraException):
    """A bad override: a `ConfigError` (key, problem), and still the Hydra error that
    `compose_config` raised for it before."""


#: OmegaConf's words for a wrong type -> what the key takes
_EXPECTED = (
    ("converted to Float", "must be a number"),
    ("converted to Integer", "must be an integer"),
    ("is not a valid bool", "must be true or false"),
    ("to Dict[", "must be a mapping, e.g. {key: value}"),
)


def _known_keys(key: str) -> list[str]:
    """The settings beside ``key`` (the fields of the dataclass that would hold it)."""
    parts = key.split(".")
    schema: Any = GROUPS.get(parts[0])
    for part in parts[1:-1]:
        if schema is None or not dataclasses.is_dataclass(schema):
            return []
        schema = typing.get_type_hints(schema).get(part)
    if schema is None or not dataclasses.is_dataclass(schema):
        return sorted(GROUPS) if len(parts) == 1 else []
    return sorted(f.name for f in dataclasses.fields(schema))


def _override_error(exc: HydraException) -> ConfigError | None:
    """The `ConfigError` behind Hydra's "Error merging override KEY=VALUE" (None: another
    failure, left to Hydra's message)."""
    text = str(exc)
    if text.startswith("Ambiguous value for argument '"):
        override = text.split("'", 2)[1]
        key, _, value = override.partition("=")
        return OverrideError(
            key, f"has several values: write {key}=[{value}] for a list (a bare a,b is a sweep)"
        )
    cause = exc.__cause__
    if not isinstance(cause, OmegaConfBaseException) or not getattr(cause, "full_key", None):
        return None
    key = str(cause.full_key)
    prefix = "Error merging override "
    value = text.splitlines()[0][len(prefix) :].partition("=")[2] if text.startswith(prefix) else ""
    detail = str(cause).strip().splitlines()[0]
    if isinstance(cause, ConfigKeyError | ConfigAttributeError):
        known = ", ".join(_known_keys(key))
        return OverrideError(key, "is unknown", message=f"unknown setting {key}; known: {known}")
    if "is not a ListConfig, list or tuple" in detail:
        return OverrideError(key, f"takes a list: write {key}=[{value}]")
    if "is not a subclass of" in detail:
        return OverrideError(key, "is a section of settings, not one value: set its keys")
    for words, expected in _EXPECTED:
        if words in detail:
            return OverrideError(key, f"{expected}, got {value!r}")
    return OverrideError(key, f"has a value of the wrong type: {detail}")


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
    #: `graphguard dense` (not part of detect)
    dense: DenseConfig = field(default_factory=DenseConfig)
    #: the case store (`graphguard cases`, `graphguard review`)
    cases: CasesConfig = field(default_factory=CasesConfig)


def settings(cfg: DictConfig) -> Settings:
    """The one conversion of a composed config: `OmegaConf.to_object` builds every group's
    dataclass (interpolations resolved, each dataclass's own checks run), the ``model`` and
    ``train`` groups are joined into one `GraphSAGEParams`, and ``features.exclude`` is applied
    (a pattern that matches no feature fails here).

    A value out of its range is a `ConfigError` naming the key as a user writes it
    (``graph.sync.max_gap_s``): each section is converted on its own, innermost first, so an
    error of a nested dataclass gets its path.
    """
    _no_unknown_keys(cfg)
    _check_sections(cfg)
    try:
        objects = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:  # OmegaConf may wrap a dataclass's own error
        if isinstance(exc.__cause__, ConfigError):
            raise exc.__cause__ from None
        raise
    assert isinstance(objects, dict)
    params = {**vars(objects["model"]), **vars(objects["train"])}
    features = objects["features"]
    try:
        feature_names = select_features(features.exclude)
    except ValueError as exc:  # "features.exclude: 'x*' matches no feature"
        problem = str(exc).removeprefix("features.exclude").lstrip(": ")
        raise ConfigError("features.exclude", problem, message=str(exc)) from None
    return Settings(
        detect=DetectConfig(
            data=objects["data"],
            graph=objects["graph"],
            community=objects["community"],
            scoring=objects["scoring"],
            engine=objects["engine"],
            spark=objects["spark"],
            local=objects["local"],
        ),
        features=features,
        feature_names=feature_names,
        params=GraphSAGEParams(**params),
        simulate=objects["simulate"],
        paths=objects["paths"],
        experiment=objects.get("experiment"),
        dense=objects["dense"],
        cases=objects.get("cases", CasesConfig()),
    )


def _check_sections(node: DictConfig, path: str = "") -> None:
    """Convert every dataclass section under ``node``, innermost first, so that a
    `ConfigError` raised by a nested one (a `RelationConfig` names only its field) gets the path
    of the section it was raised in (``graph.sync.``)."""
    for key in node:
        child = node._get_node(key)
        if not isinstance(child, DictConfig):
            continue
        _check_sections(child, f"{path}{key}.")
        schema = OmegaConf.get_type(child)
        if schema is None or not dataclasses.is_dataclass(schema):
            continue
        try:
            OmegaConf.to_object(child)
        except ConfigError as exc:
            raise exc.within(f"{path}{key}.") from None
        except OmegaConfBaseException as exc:
            if isinstance(exc.__cause__, ConfigError):
                raise exc.__cause__.within(f"{path}{key}.") from None
            raise


def _no_unknown_keys(node: DictConfig, path: str = "") -> None:
    """Name a key no dataclass field holds. Struct mode stops a plain override of an unknown
    key, but ``+key=value`` adds one, which `OmegaConf.to_object` would set as an attribute."""
    schema = OmegaConf.get_type(node)
    known: set[str] | None = None
    if not path:  # the root: the groups, and the experiment section where it is composed
        typed = "experiment" in node and OmegaConf.get_type(node, "experiment") is ExperimentConfig
        known = set(GROUPS) | {"engine"} | ({"experiment"} if typed else set())
    elif schema is not None and dataclasses.is_dataclass(schema):
        known = {f.name for f in dataclasses.fields(schema)}
    if known is not None:
        unknown = sorted(str(key) for key in node if key not in known)
        if unknown:
            key = f"{path}{unknown[0]}"
            raise ConfigError(
                key,
                "is unknown",
                message=f"unknown setting {key}; known: {', '.join(sorted(known))}",
            )
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _no_unknown_keys(child, f"{path}{key}.")
