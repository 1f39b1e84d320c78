"""Configuration: the dataclasses are the defaults, conf/ only names alternatives, and one
conversion (`graphguard.compose.settings`) turns a composed config into the typed objects."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from graphguard.compose import GROUPS, PathsConfig, compose_config, config_dir, settings
from graphguard.config import (
    CommunityConfig,
    ConfigError,
    DataConfig,
    DetectConfig,
    FeatureConfig,
    GraphConfig,
    RelationConfig,
    ScoringConfig,
)
from graphguard.evaluation.harness import ExperimentConfig
from graphguard.features import FEATURE_NAMES, select_features
from graphguard.models.params import GraphSAGEParams
from graphguard.schema import ANY_RELATION, RELATIONS
from graphguard.simulate import SimulationConfig

REPO = Path(__file__).resolve().parents[1]


def test_the_default_config_is_the_dataclasses_defaults():
    s = settings(compose_config())
    assert s.detect == DetectConfig()
    assert s.features == FeatureConfig()
    assert s.feature_names == FEATURE_NAMES
    assert s.params == GraphSAGEParams()
    assert s.simulate == SimulationConfig()
    assert s.paths.experiments_dir == PathsConfig().experiments_dir
    assert s.experiment is None


def test_sequences_come_back_as_the_dataclasses_tuples():
    s = settings(compose_config(["graph=talkingdata"]))
    assert s.detect.graph.engagement_types == ("click",)
    assert isinstance(s.detect.scoring.signup_types, tuple)
    assert isinstance(s.features.relations, tuple)
    assert isinstance(s.simulate.unlabeled_kinds, tuple)
    assert s.params.fanouts == [15, 10]


def test_conf_holds_only_the_root_and_named_alternatives():
    root = yaml.safe_load((config_dir() / "config.yaml").read_text())
    groups = [next(iter(entry)) for entry in root["defaults"] if isinstance(entry, dict)]
    assert groups == list(GROUPS)
    # beside the groups: the root key engine (its default stored by compose.py), then _self_
    plain = [entry for entry in root["defaults"] if not isinstance(entry, dict)]
    assert plain == ["engine_schema", "_self_"]
    assert all(entry[next(iter(entry))] == "default" for entry in root["defaults"][1:-1])
    for path in config_dir().glob("*/*.yaml"):
        assert path.stem != "default", f"{path} repeats a dataclass's defaults"
        if path.parent.name != "experiment":  # alternatives extend the stored default
            assert yaml.safe_load(path.read_text())["defaults"] == ["default", "_self_"], path


def test_engine_is_a_root_key_checked_by_detect_config():
    s = settings(compose_config(["engine=spark", "spark.master='local[4]'"]))
    assert s.detect.engine == "spark"
    assert s.detect.spark.master == "local[4]"
    assert settings(compose_config([])).detect.engine == "local"
    with pytest.raises(ConfigError, match="engine must be one of local, spark"):
        settings(compose_config(["engine=hadoop"]))


def test_model_and_train_are_the_params_of_their_group():
    cfg = compose_config(["model.hidden=128", "train.epochs=7", "train.fanouts=[5,5]"])
    params = settings(cfg).params
    assert params == replace(GraphSAGEParams(), hidden=128, epochs=7, fanouts=[5, 5])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("community.resolution=abc", "community.resolution"),
        ("train.epochs=many", "train.epochs"),
        ("graph.no_such_key=1", "graph.no_such_key"),
        ("model.epochs=3", "model.epochs"),  # a train parameter is not a model one
        ("paths.runs_dir=runs", "paths.runs_dir"),
    ],
)
def test_unknown_keys_and_wrong_types_fail_naming_the_key(override, key):
    with pytest.raises((HydraException, OmegaConfBaseException), match=key.replace(".", r"\.")):
        compose_config([override])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+model.hiddne=32", "model.hiddne"),
        ("+graph.device.no_such=1", "graph.device.no_such"),
        ("+no_such_group.x=1", "no_such_group"),
    ],
)
def test_a_key_added_with_plus_is_still_unknown(override, key):
    cfg = compose_config([override])  # `+` adds a key even to a structured config
    with pytest.raises(ValueError, match=f"unknown setting {key.replace('.', r'[.]')};"):
        settings(cfg)


def test_free_form_sections_take_added_keys():
    cfg = compose_config(
        ["experiment=sim_labels40", "+experiment.baselines.gbt.max_iter=5"],
        config_name="experiments",
    )
    assert settings(cfg).experiment.baselines["gbt"] == {"max_iter": 5}


def test_the_named_alternatives_change_only_their_fields():
    default = settings(compose_config())
    talkingdata = settings(compose_config(["data=talkingdata", "graph=talkingdata"]))
    assert talkingdata.detect.data == DataConfig(
        format="csv",
        columns={
            "event_time": "click_time",
            "account_id": "ip",
            "device_id": ["device", "os"],
            "ip": None,
            "target_id": ["app", "channel"],
        },
        constants={"event_type": "click"},
    )
    assert talkingdata.detect.graph == GraphConfig(engagement_types=("click",))
    assert talkingdata.detect.community == default.detect.community
    merged = settings(compose_config(["features=merged"])).features
    assert merged == FeatureConfig(relations=(ANY_RELATION,))
    no_evidence = settings(compose_config(["features=no_evidence"]))
    assert "cluster_suspicion" not in no_evidence.feature_names
    assert no_evidence.feature_names == select_features(no_evidence.features.exclude)
    assert no_evidence.features.relations == FeatureConfig().relations
    assert FeatureConfig(relations=()).relations == RELATIONS  # none named: all of them
    assert settings(compose_config(["simulate=small"])).simulate == SimulationConfig(
        n_accounts=3000
    )
    assert settings(compose_config(["simulate=hard"])).simulate == SimulationConfig(
        difficulty="hard"
    )


def test_an_experiment_file_is_a_diff_on_the_experiment_defaults():
    s = settings(compose_config(["experiment=sim_heldout"], config_name="experiments"))
    assert isinstance(s.experiment, ExperimentConfig)
    assert s.experiment.name == "sim_heldout"
    assert s.experiment.inductive_offset == 1000  # not in the file: the dataclass default
    assert s.simulate.unlabeled_kinds == ("engagement_pod", "paid_boost")
    assert s.simulate.label_noise == 0.05
    labels40 = settings(compose_config(["experiment=sim_labels40"], config_name="experiments"))
    assert str(labels40.simulate.n_accounts) in labels40.experiment.description  # resolved


def test_the_experiment_section_checks_itself():
    with pytest.raises(ValueError, match="experiment.kind"):
        ExperimentConfig(name="x", kind="imagined")
    with pytest.raises(ValueError, match="experiment.dataset"):
        ExperimentConfig(name="x", kind="real")
    with pytest.raises(ValueError, match="experiment.targets.auprc"):
        ExperimentConfig(name="x", targets={"auprc": {"method": "gbt", "metric": "auprc"}})
    cfg = compose_config(
        ["experiment=sim_heldout", "experiment.kind=imagined"], config_name="experiments"
    )
    with pytest.raises(ValueError, match="experiment.kind"):
        settings(cfg)


def test_the_harness_and_the_library_import_no_hydra():
    code = (
        "import sys; import graphguard.evaluation.harness, graphguard.config; "
        "print(sorted(m for m in ('hydra', 'omegaconf', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- range checks: one layer, in the dataclasses, for the Python API as for the CLI


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: CommunityConfig(resolution=-1.0), "community.resolution"),
        (lambda: CommunityConfig(max_cluster_size=-1), "community.max_cluster_size"),
        (lambda: GraphConfig(min_edge_weight=float("nan")), "graph.min_edge_weight"),
        (lambda: ScoringConfig(risk_threshold=5.0), "scoring.risk_threshold"),
        (lambda: GraphSAGEParams(epochs=0), "train.epochs"),
        (lambda: GraphSAGEParams(dropout=1.0), "model.dropout"),
        (lambda: GraphSAGEParams(device="tpu"), "train.device"),
        (lambda: SimulationConfig(days=1), "simulate.days"),
    ],
)
def test_the_python_api_gets_the_same_range_checks(build, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as caught:
        build()
    assert caught.value.key == key


def test_documented_edge_values_stay_valid():
    assert CommunityConfig(max_cluster_size=0).max_cluster_size == 0  # refinement off
    assert CommunityConfig(n_iterations=-1).n_iterations == -1  # until stable
    assert RelationConfig(max_gap_s=None, max_accounts=None).max_gap_s is None
    assert GraphSAGEParams(fanouts=[-1, 5]).fanouts == [-1, 5]  # every neighbour


def test_a_nested_section_error_gets_its_path():
    with pytest.raises(ConfigError) as caught:
        settings(compose_config(["graph.sync.window_rows=0"]))
    assert caught.value.key == "graph.sync.window_rows"


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))
)
def test_every_shipped_experiment_still_validates(name):
    s = settings(compose_config([f"experiment={name}"], config_name="experiments"))
    assert s.experiment is not None
