"""Supervised use end to end: `graphguard train`, `detect --model`, fusion, and experiments."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from graphguard import schema
from graphguard.cli import app
from graphguard.compose import compose_config, settings
from graphguard.config import DetectConfig, ScoringConfig
from graphguard.evaluation.evaluate import evaluate
from graphguard.features import FEATURE_NAMES, select_features
from graphguard.pipeline.fusion import fuse_scores
from graphguard.pipeline.train import build_detector, config_drift, load_model
from graphguard.simulate import SimulationConfig, simulate, write_world

runner = CliRunner()
TRAIN = ["--set", "train.epochs=40", "--set", "train.device=cpu", "-q"]


@lru_cache(maxsize=2)
def _world(seed: int):
    return simulate(SimulationConfig(n_accounts=1500, seed=seed, label_fraction=0.4))


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("worlds")
    for name, seed in (("train", 41), ("new", 42)):
        write_world(_world(seed), root / name)
    return {"train": root / "train", "new": root / "new", "root": root}


def _train(worlds: dict[str, Path], out: Path, *extra: str):
    """`graphguard train` on the training world."""
    return runner.invoke(
        app,
        [
            "train",
            str(worlds["train"] / "events.parquet"),
            "--labels",
            str(worlds["train"] / "labels.parquet"),
            "--out",
            str(out),
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def model(worlds) -> Path:
    path = worlds["root"] / "model.pt"
    result = _train(worlds, path, *TRAIN)
    assert result.exit_code == 0, result.output
    assert "trained on" in result.output and "validation AUPRC" in result.output
    return path


def _detect(worlds: dict[str, Path], model: Path, out: Path, *extra: str):
    """`graphguard detect --model` on the new world, on the CPU."""
    return runner.invoke(
        app,
        [
            "detect",
            str(worlds["new"] / "events.parquet"),
            "--model",
            str(model),
            "--out",
            str(out),
            "--device",
            "cpu",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def scored_run(worlds, model) -> Path:
    run_dir = worlds["root"] / "run-new"
    result = _detect(worlds, model, run_dir, "-q")
    assert result.exit_code == 0, result.output
    return run_dir


def test_a_trained_model_scores_a_world_it_never_saw(worlds, scored_run):
    accounts = pl.read_parquet(scored_run / "accounts.parquet")
    truth = pl.read_parquet(worlds["new"] / "truth.parquet")
    # training never saw these accounts: the two worlds share no account id
    trained_on = pl.read_parquet(worlds["train"] / "events.parquet").get_column("account_id")
    assert not accounts.get_column("account_id").is_in(trained_on.unique().implode()).any()
    metrics = evaluate(accounts, truth)
    assert metrics["accounts"]["auprc"] >= 0.97
    assert metrics["campaigns"]["caught_share"] >= 0.9


def test_model_scores_keep_the_contract(scored_run):
    accounts = pl.read_parquet(scored_run / "accounts.parquet")
    scores = accounts.select(schema.SCORE_COLUMNS).to_numpy()
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert np.allclose(accounts["risk"].to_numpy(), 1.0 - accounts["score_benign"].to_numpy())
    assert set(accounts["predicted_label"].unique()) <= set(schema.LABELS)
    argmax = np.array(schema.LABELS)[scores.argmax(axis=1)]
    assert (argmax == accounts["predicted_label"].to_numpy()).all()
    # the two parts the scores were fused from stay visible
    assert {"model_risk", "evidence_risk"} <= set(accounts.columns)
    meta = json.loads((scored_run / "run.json").read_text())
    assert meta["model"]["kind"] == "graphsage"
    assert meta["model"]["path"].endswith("model.pt")
    assert "model" in meta["timings_s"] and "features" in meta["timings_s"]


def test_the_checkpoint_carries_its_pipeline_config(model):
    detector = load_model(model, device="cpu")
    trained = detector.metadata_["trained"]
    assert trained["labelled"]["bot_ring"] > 0 and trained["labelled"]["fake_engagement"] > 0
    assert detector.metadata_["config"]["graph"]["sync"]["max_gap_s"] == 600.0
    assert config_drift(detector, DetectConfig()) == []
    changed = DetectConfig(
        scoring=ScoringConfig(risk_threshold=0.9, sync_min_share=0.5),
    )
    # the flag threshold does not change what the features mean; the sync share does
    assert config_drift(detector, changed) == ["scoring.sync_min_share: 0.25 -> 0.5"]


def test_detect_with_a_model_is_deterministic(worlds, model, scored_run, tmp_path):
    again = tmp_path / "again"
    result = _detect(worlds, model, again, "-q")
    assert result.exit_code == 0, result.output
    first = pl.read_parquet(scored_run / "accounts.parquet")
    second = pl.read_parquet(again / "accounts.parquet")
    assert first.equals(second)


def test_drifted_settings_are_warned_about(worlds, model, tmp_path):
    result = _detect(worlds, model, tmp_path / "run", "--set", "graph.sync.max_gap_s=300")
    assert result.exit_code == 0, result.output
    assert "trained with other settings" in result.output
    assert "graph.sync.max_gap_s: 600.0 -> 300" in result.output


def test_train_refuses_to_overwrite_and_bad_files_are_named(worlds, model, tmp_path):
    events = str(worlds["train"] / "events.parquet")
    labels = str(worlds["train"] / "labels.parquet")
    result = runner.invoke(app, ["train", events, "--labels", labels, "--out", str(model), "-q"])
    assert result.exit_code == 1
    assert "already exists" in result.output

    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("account_id,label\nu1,spammer\n")
    result = runner.invoke(
        app, ["train", events, "--labels", str(bad_labels), "--out", str(tmp_path / "m.pt")]
    )
    assert result.exit_code == 1
    assert "labels.csv" in result.output and "spammer" in result.output
    assert not (tmp_path / "m.pt").exists()

    not_a_model = tmp_path / "model.pt"
    not_a_model.write_bytes(b"not a checkpoint")
    result = runner.invoke(
        app, ["detect", events, "--model", str(not_a_model), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error:")
    assert not (tmp_path / "run").exists()


def test_unknown_model_setting_is_a_clear_error(worlds, tmp_path):
    result = _train(worlds, tmp_path / "m.pt", "--set", "+model.hiddne=32")
    assert result.exit_code == 2  # a usage error, as for a misspelt key without +
    assert "model.hiddne" in result.output


# --------------------------------------------------------------------------------------------
# Fusion


def _evidence_accounts(risk, bot_likeness, cluster_id=None) -> pl.DataFrame:
    n = len(risk)
    return pl.DataFrame(
        {
            "account": np.arange(n, dtype=np.uint32),
            "cluster_id": pl.Series(cluster_id or list(range(n)), dtype=pl.Int64),
            "risk": np.asarray(risk, dtype=np.float64),
            "bot_likeness": np.asarray(bot_likeness, dtype=np.float64),
        }
    )


def test_noisy_or_fusion_keeps_a_distribution_and_lets_evidence_add_abuse():
    proba = np.array(
        [
            [0.9, 0.05, 0.05],  # model: benign; evidence: none
            [1.0, 0.0, 0.0],  # model: benign; evidence: a fake-engagement cluster
            [0.1, 0.8, 0.1],  # model: bot ring; evidence: none
            [0.5, 0.3, 0.2],
        ]
    )
    accounts = _evidence_accounts([0.0, 0.9, 0.0, 0.6], [0.5, 0.0, 0.5, 1.0])
    fused = fuse_scores(accounts, proba, ScoringConfig(fusion="noisy_or"))
    scores = fused.select(schema.SCORE_COLUMNS).to_numpy()
    assert np.allclose(scores.sum(axis=1), 1.0)
    model_risk = 1.0 - proba[:, 0]
    evidence = accounts["risk"].to_numpy()
    assert np.allclose(fused["risk"], 1.0 - (1.0 - model_risk) * (1.0 - evidence))
    assert (fused["risk"].to_numpy() >= np.maximum(model_risk, evidence) - 1e-12).all()
    assert fused["predicted_label"].to_list() == [
        "benign",
        "fake_engagement",
        "bot_ring",
        "bot_ring",
    ]
    assert fused["flagged"].to_list() == [False, True, True, True]
    assert np.allclose(fused["model_risk"], model_risk)
    assert np.allclose(fused["evidence_risk"], evidence)


def test_model_fusion_ignores_the_evidence():
    proba = np.array([[1.0, 0.0, 0.0], [0.2, 0.1, 0.7]])
    accounts = _evidence_accounts([0.9, 0.0], [1.0, 1.0])
    fused = fuse_scores(accounts, proba, ScoringConfig(fusion="model"))
    assert np.allclose(fused.select(schema.SCORE_COLUMNS).to_numpy(), proba)
    assert fused["predicted_label"].to_list() == ["benign", "fake_engagement"]


def test_fusion_rule_is_validated():
    with pytest.raises(ValueError, match="scoring.fusion"):
        ScoringConfig(fusion="average")
    accounts = _evidence_accounts([0.1], [0.5])
    with pytest.raises(ValueError, match="shape"):
        fuse_scores(accounts, np.ones((2, 3)) / 3, ScoringConfig())


def test_feature_selection_by_name_and_pattern():
    assert select_features() == FEATURE_NAMES
    kept = select_features(["cluster_*", "in_cluster"])
    assert "in_cluster" not in kept and not any(n.startswith("cluster_") for n in kept)
    assert "log_events" in kept and len(kept) < len(FEATURE_NAMES)
    with pytest.raises(ValueError, match="matches no feature"):
        select_features(["no_such_feature*"])


def test_training_on_fewer_features_scores_with_the_same_columns(worlds, tmp_path):
    path = tmp_path / "no-evidence.pt"
    result = _train(worlds, path, "--set", "features=no_evidence", *TRAIN)
    assert result.exit_code == 0, result.output
    detector = load_model(path, device="cpu")
    assert "cluster_suspicion" not in detector.feature_names_
    assert detector.feature_names_ == select_features(
        compose_config(["features=no_evidence"]).features.exclude
    )


# --------------------------------------------------------------------------------------------
# Experiments


def test_an_experiment_writes_config_metrics_plots_and_model(tmp_path):
    from graphguard.experiment import run

    cfg = compose_config(
        [
            "experiment=sim_heldout",
            "experiment.seeds=[3]",
            "experiment.methods=[graphsage+evidence,graphsage,gbt+evidence,evidence]",
            "simulate.n_accounts=1500",
            "train.epochs=30",
            "train.device=cpu",
        ],
        config_name="experiments",
    )
    metrics = run(cfg, tmp_path, progress=lambda line: None, overrides=["experiment=sim_heldout"])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["experiment"] == "sim_heldout"
    assert written["command"] == "python -m graphguard.experiment experiment=sim_heldout"
    summary = written["summary"]
    assert set(summary) == {"graphsage+evidence", "graphsage", "gbt+evidence", "evidence"}
    for method in summary.values():
        assert 0.0 <= method["mean"]["auprc"] <= 1.0
        assert len(method["per_seed"]) == 1
    assert {t["target"] for t in written["targets"]} == {"auprc", "every_campaign_caught"}
    assert metrics["summary"] == summary
    resolved = (tmp_path / "config.yaml").read_text()
    assert "${" not in resolved and "unlabeled_kinds" in resolved
    for png in ("pr_curves.png", "score_hist.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "model.pt").is_file()
    table = (tmp_path / "summary.md").read_text()
    assert "| graphsage+evidence |" in table and "| gbt+evidence |" in table


def test_every_shipped_experiment_composes():
    from graphguard.compose import config_dir
    from graphguard.evaluation.harness import real_graphsage_params

    names = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
    assert {"sim_labels40", "sim_heldout", "sim_inductive"} <= set(names)
    for name in names:
        # every section converts, so each dataclass's checks pass
        experiment_settings = settings(
            compose_config([f"experiment={name}"], config_name="experiments")
        )
        experiment = experiment_settings.experiment
        assert experiment.name == name
        assert experiment.kind in ("simulated", "inductive", "real")
        for target in experiment.targets.values():
            assert target["method"] in experiment.methods
        if experiment.kind == "real":  # its GraphSAGE settings make a valid detector
            build_detector(real_graphsage_params(experiment_settings.params, experiment))


def test_fused_scores_beat_the_model_alone_when_kinds_are_unlabelled():
    """The reason fusion exists: a kind missing from the labels is still caught."""
    from graphguard.evaluation.harness import score_world

    cfg = compose_config(
        [
            "experiment=sim_heldout",
            "experiment.methods=[graphsage+evidence,graphsage]",
            "simulate.n_accounts=1500",
            "train.epochs=30",
            "train.device=cpu",
        ],
        config_name="experiments",
    )
    s = settings(cfg)
    world = simulate(replace(s.simulate, seed=5))
    scores, _ = score_world(
        s.detect,
        s.features,
        s.params,
        world,
        methods=s.experiment.methods,
        baselines=s.experiment.baselines,
    )
    metrics = scores.evaluate()
    fused, alone = metrics["graphsage+evidence"], metrics["graphsage"]
    held_out = ("engagement_pod", "paid_boost")
    by_kind = fused["campaigns"]["by_kind"]
    assert all(by_kind[k]["caught_share"] == 1.0 for k in held_out if k in by_kind)
    assert fused["accounts"]["auprc"] >= alone["accounts"]["auprc"]
    assert fused["accounts"]["auprc"] >= 0.9


def test_the_merged_relation_is_the_union_of_the_relations():
    from graphguard.graph.inputs import graph_inputs
    from graphguard.graph.projections import ANY_RELATION
    from tests.worlds import pipeline_world

    _, pipeline = pipeline_world(21)
    separate = graph_inputs(pipeline.features, pipeline.edges)
    merged = graph_inputs(pipeline.features, pipeline.edges, relations=(ANY_RELATION,))
    union = {tuple(pair) for e in separate.edge_index_dict.values() for pair in e.T.tolist()}
    assert set(merged.edge_index_dict) == {ANY_RELATION}
    assert {tuple(p) for p in merged.edge_index_dict[ANY_RELATION].T.tolist()} == union


def test_explain_says_what_the_model_added(scored_run):
    accounts = pl.read_parquet(scored_run / "accounts.parquet")
    flagged = accounts.filter(pl.col("flagged")).sort("risk", descending=True)
    account = flagged.get_column("account_id")[0]
    result = runner.invoke(app, ["explain", str(scored_run), account, "--json"])
    assert result.exit_code == 0, result.output
    drivers = json.loads(result.output)["drivers"]
    row = flagged.row(0, named=True)
    assert drivers["model"] == pytest.approx(row["model_risk"])
    text = " ".join(drivers["sentences"])
    assert "GraphSAGE model" in text and "1 - (1 - model) x (1 - evidence)" in text
    assert drivers["main"] in ("behaviour", "infrastructure", "model")


def test_epoch_selection_rule_is_validated():
    from graphguard.models.detector import GraphSAGEDetector

    with pytest.raises(ValueError, match="select_on"):
        GraphSAGEDetector(select_on="f1")
    assert GraphSAGEDetector().select_on == "loss"


def test_reports_say_a_model_scored_the_run(scored_run, model):
    result = runner.invoke(app, ["report", str(scored_run), "--markdown"])
    assert result.exit_code == 0, result.output
    assert f"GraphSAGE model {model} combined with the cluster evidence" in result.output


def test_a_kind_the_model_never_saw_is_named_by_the_evidence():
    from graphguard.models.detector import GraphSAGEDetector
    from graphguard.pipeline.fusion import unseen_classes

    detector = GraphSAGEDetector()
    detector.class_counts_ = [900, 40, 0]
    assert unseen_classes(detector) == ("fake_engagement",)
    detector.class_counts_ = [900, 40, 30]
    assert unseen_classes(detector) == ()

    # the model (which knows only bot rings) calls both accounts bot rings; the first sits in
    # a community whose evidence says fake engagement (bot_likeness 0.1)
    proba = np.array([[0.2, 0.8, 0.0], [0.2, 0.8, 0.0]])
    accounts = _evidence_accounts([0.0, 0.0], [0.1, 0.9])
    known = fuse_scores(accounts, proba, ScoringConfig())
    assert known["predicted_label"].to_list() == ["bot_ring", "bot_ring"]
    fused = fuse_scores(accounts, proba, ScoringConfig(), unseen=("fake_engagement",))
    assert fused["predicted_label"].to_list() == ["fake_engagement", "bot_ring"]
    assert np.allclose(fused["risk"], known["risk"])
    assert np.allclose(fused.select(schema.SCORE_COLUMNS).to_numpy().sum(axis=1), 1.0)
    # outside any community there is no evidence of the kind: the model's own split stands
    alone = _evidence_accounts([0.0], [0.0], cluster_id=[None])
    outside = fuse_scores(alone, proba[:1], ScoringConfig(), unseen=("fake_engagement",))
    assert outside["predicted_label"].to_list() == ["bot_ring"]


def test_the_model_is_calibrated_and_flags_at_the_target_fpr(worlds, model, tmp_path):
    loaded = load_model(model, device="cpu")
    calibration = loaded.calibration_
    assert loaded.temperature_ > 0 and calibration["n_validation"] > 0
    assert calibration["nll_after"] <= calibration["nll_before"] + 1e-12
    assert len(loaded.validation_scores_["abusive"]) == calibration["n_validation"]
    runs = {}
    for target in (0.005, 0.05):
        out = tmp_path / f"run-{target}"
        result = _detect(worlds, model, out, "-q", "--set", f"scoring.target_fpr={target}")
        assert result.exit_code == 0, result.output
        meta = json.loads((out / "run.json").read_text())
        point = meta["operating_point"]
        assert point["method"] == "validation" and point["target_fpr"] == target
        assert point["expected_fpr"] <= target
        assert meta["summary"]["risk_threshold"] == point["threshold"]
        accounts = pl.read_parquet(out / "accounts.parquet")
        assert (accounts["flagged"] == (accounts["risk"] >= point["threshold"])).all()
        runs[target] = point["threshold"]
    assert runs[0.005] >= runs[0.05]


@pytest.mark.parametrize(
    "override", ["scoring.target_fpr=1.5", "scoring.target_precision=0"], ids=["fpr", "precision"]
)
def test_bad_targets_are_usage_errors(worlds, model, tmp_path, override):
    result = _detect(worlds, model, tmp_path / "run", "--set", override)
    assert result.exit_code == 2, result.output
    assert override.split("=")[0] in result.output and "within (0, 1)" in result.output
    assert not (tmp_path / "run").exists()


def test_both_targets_are_a_usage_error(worlds, model, tmp_path):
    result = _detect(
        worlds,
        model,
        tmp_path / "run",
        "--set",
        "scoring.target_fpr=0.01",
        "--set",
        "scoring.target_precision=0.9",
    )
    assert result.exit_code == 2, result.output
    assert "set at most one" in result.output
