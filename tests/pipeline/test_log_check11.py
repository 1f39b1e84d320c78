"""The check of the ``log`` FPR estimate (`models.calibration.log_check`): it fires where the
model's risks are not benign probabilities (the estimate then misses the target by a factor)
and stays quiet where the estimate holds; run.json's ``operating_point``, the run's warnings
and the report's sentence say so."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from graphguard.cli import app
from graphguard.config import ScoringConfig
from graphguard.models.calibration import CHECK_RATIO, log_check, stratified_point
from graphguard.pipeline.operating import operating_warnings, resolve_operating_point
from graphguard.report.summary import operating_point_words
from tests.pipeline.operating_models import stored_model


def _world(rng: np.random.Generator, n_benign: int, n_abusive: int, *, hard: bool):
    """Model risk, evidence risk and abusiveness. Ordinary (as the simulator's ordinary
    worlds): the evidence catches every campaign and the model is sure of it; 0.3% of benign
    accounts are doubted by the model (model risk 0.05-1, low evidence). ``hard`` (as its hard
    worlds): 15% of benign accounts doubted, and 30% of abusive ones hidden from the evidence
    with model risks as doubtful as theirs, so a model risk of 0.8 is mostly benign, in the
    validation split and the log alike."""
    doubted, hidden = (0.15, 0.3) if hard else (0.003, 0.0)
    m = rng.beta(1.0, 300.0, n_benign)
    hesitant = rng.random(n_benign) < doubted
    m = np.where(hesitant, rng.uniform(0.05, 1.0, n_benign), m)
    suspicious = rng.random(n_benign) < 0.02
    e = np.where(suspicious, rng.uniform(0.05, 0.3, n_benign), 0.1 * rng.random(n_benign) ** 2)
    e = np.where(hesitant, 0.05 * rng.random(n_benign), e)
    hid = rng.random(n_abusive) < hidden
    sure = 1.0 - 10.0 ** rng.uniform(-5.5, -3.0, n_abusive)
    am = np.where(hid, rng.uniform(0.05, 1.0, n_abusive), sure)
    ae = np.where(hid, 0.05 * rng.random(n_abusive), rng.uniform(0.95, 1.0, n_abusive))
    positive = np.arange(n_benign + n_abusive) >= n_benign
    return np.concatenate([m, am]), np.concatenate([e, ae]), positive


def _point(seed: int, hard: bool, target: float = 0.01):
    rng = np.random.default_rng(900 + seed)
    m, e, positive = _world(rng, 1500, 300, hard=hard)
    lm, le, lpos = _world(rng, 6000, 1200, hard=hard)
    lr = 1.0 - (1.0 - lm) * (1.0 - le)
    point = stratified_point(
        m, e, positive, le, evidence_weights=1.0 - lm, log_risk=lr, target_fpr=target
    )
    return point, float((lr[~lpos] >= point.threshold).mean())


@pytest.mark.parametrize("seed", range(6))
def test_the_check_fires_where_the_estimate_misses_by_a_factor(seed):
    """The hard case: the estimate says 1% and the log's benign accounts are flagged at more
    than twice that; the check fires, and the widened interval covers the truth where the
    sampling interval alone does not."""
    point, population = _point(seed, hard=True)
    assert point.expected_fpr <= 0.01 and population > 0.02
    assert point.reliable is False
    check = point.reliability
    assert check["ratio"] > CHECK_RATIO and check["isotonic_fpr"] > 0.02
    assert check["weight_gap"] > 0.03  # the recalibration counts more of the log benign
    lo, hi = check["sampling_interval"]
    assert not lo <= population <= hi
    lo, hi = point.fpr_interval
    assert lo <= population <= hi
    assert hi == pytest.approx(max(check["isotonic_interval"][1], check["sampling_interval"][1]))
    assert "differ" in check["reason"]


@pytest.mark.parametrize("seed", range(6))
def test_the_check_is_quiet_where_the_estimate_holds(seed):
    point, population = _point(seed, hard=False)
    assert abs(population - 0.01) <= 0.002  # the estimate holds here
    assert point.reliable is True
    assert point.reliability["ratio"] < 1.1 and point.reliability["reason"] is None
    assert abs(point.reliability["weight_gap"]) < 0.01
    # the interval is the sampling one, untouched
    assert point.fpr_interval == pytest.approx(tuple(point.reliability["sampling_interval"]))


def test_the_check_needs_both_classes_and_is_skipped_without_them():
    rng = np.random.default_rng(3)
    m, e, _ = _world(rng, 500, 50, hard=False)
    lm, le, _ = _world(rng, 1000, 100, hard=False)
    lr = 1.0 - (1.0 - lm) * (1.0 - le)
    none = np.zeros(m.size, dtype=bool)
    assert log_check(m, e, none, le, 1.0 - lm, lr, 0.5) is None


def test_run_json_warnings_and_the_report_carry_the_check():
    rng = np.random.default_rng(17)
    m, e, positive = _world(rng, 1500, 300, hard=True)
    lm, le, _ = _world(rng, 6000, 1200, hard=True)
    accounts = pl.DataFrame({"evidence_risk": le, "model_risk": lm})
    scoring = ScoringConfig(target_fpr=0.01)
    point = resolve_operating_point(scoring, model=stored_model(m, e, positive), accounts=accounts)
    data = json.loads(json.dumps(point.to_dict()))  # as run.json holds it
    assert data["reliable"] is False
    assert data["reliability"]["check"] == "isotonic_disagreement"
    (warning,) = operating_warnings(data)
    assert "unreliable on this log" in warning and "differ" in warning
    words = operating_point_words(SimpleNamespace(meta={"operating_point": data}))
    assert "this estimate is unreliable on this log" in words
    # the ordinary case: reliable, no warning, the sentence as before
    m, e, positive = _world(rng, 1500, 300, hard=False)
    lm, le, _ = _world(rng, 6000, 1200, hard=False)
    accounts = pl.DataFrame({"evidence_risk": le, "model_risk": lm})
    quiet = resolve_operating_point(scoring, model=stored_model(m, e, positive), accounts=accounts)
    data = json.loads(json.dumps(quiet.to_dict()))
    assert data["reliable"] is True and operating_warnings(data) == []
    words = operating_point_words(SimpleNamespace(meta={"operating_point": data}))
    assert "unreliable" not in words
    # without the log's accounts there is nothing to check
    trained = resolve_operating_point(scoring, model=stored_model(m, e, positive))
    assert trained.reliable is None and operating_warnings(trained.to_dict()) == []


runner = CliRunner()


@lru_cache(maxsize=1)
def _hard_run(root: str) -> Path:
    """`graphguard simulate` (hard, 1,500 accounts) seeds 41 and 42, `train` on 41, `detect
    --model --set scoring.target_fpr=0.01` on 42 (about 25 s)."""
    base = Path(root)
    for seed in (41, 42):
        args = ["simulate", str(base / f"w{seed}"), "--accounts", "1500", "--seed", str(seed)]
        args += ["--label-fraction", "0.4", "--set", "simulate.difficulty=hard", "-q"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    model = base / "model.pt"
    result = runner.invoke(
        app,
        [
            "train",
            str(base / "w41" / "events.parquet"),
            "--labels",
            str(base / "w41" / "labels.parquet"),
            "--out",
            str(model),
            "--set",
            "train.epochs=40",
            "--set",
            "train.device=cpu",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    out = base / "run"
    result = runner.invoke(
        app,
        [
            "detect",
            str(base / "w42" / "events.parquet"),
            "--model",
            str(model),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--set",
            "scoring.target_fpr=0.01",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    (out / "cli-output.txt").write_text(result.output)
    return out


def test_a_hard_world_run_says_its_estimate_is_unreliable(tmp_path_factory):
    """End to end on a hard world: run.json's operating_point is marked unreliable, the run
    warns (on stderr and in run.json), and the Markdown report says so; the truth agrees that
    the estimate missed (the benign accounts flagged at more than the expected FPR)."""
    out = _hard_run(str(tmp_path_factory.mktemp("hard")))
    meta = json.loads((out / "run.json").read_text())
    point = meta["operating_point"]
    assert point["estimator"] == "log" and point["reliable"] is False
    assert point["reliability"]["ratio"] > CHECK_RATIO
    assert any("unreliable on this log" in w for w in meta["warnings"])
    assert "graphguard: warning: the flag threshold's expected false-positive rate" in (
        (out / "cli-output.txt").read_text()
    )
    from graphguard.report import load_run, render_markdown

    assert "this estimate is unreliable on this log" in render_markdown(load_run(out))
    truth = pl.read_parquet(out.parent / "w42" / "truth.parquet")
    accounts = pl.read_parquet(out / "accounts.parquet").join(
        truth.select("account_id", "label"), on="account_id"
    )
    benign = accounts.filter(pl.col("label") == "benign")
    population = benign["flagged"].mean()
    assert population > 1.5 * point["expected_fpr"]
    lo, hi = point["fpr_interval"]
    assert lo <= population <= hi


def test_the_opt_in_bracket_moves_only_a_threshold_whose_check_fired():
    """``scoring.unreliable_threshold: bracket``: where the check fires the threshold moves to
    where the two estimates' mean meets the target, nearer it than the estimate's own on every
    draw of the hard case, its interval covering the truth; where the check holds, nothing
    moves."""
    for seed in range(4):
        for hard in (True, False):
            rng = np.random.default_rng(900 + seed)
            m, e, positive = _world(rng, 1500, 300, hard=hard)
            lm, le, lpos = _world(rng, 6000, 1200, hard=hard)
            lr = 1.0 - (1.0 - lm) * (1.0 - le)
            kw = {"evidence_weights": 1.0 - lm, "log_risk": lr, "target_fpr": 0.01}
            keep = stratified_point(m, e, positive, le, **kw)
            moved = stratified_point(m, e, positive, le, unreliable="bracket", **kw)
            if not hard:
                assert moved.threshold == keep.threshold and moved.threshold_rule is None
                assert moved.fpr_interval == keep.fpr_interval
                continue
            assert moved.threshold_rule == "bracket" and moved.reliable is False
            assert moved.reliability["log_threshold"] == keep.threshold
            before = (lr[~lpos] >= keep.threshold).mean()
            after = (lr[~lpos] >= moved.threshold).mean()
            assert abs(after - 0.01) < 0.5 * abs(before - 0.01)
            lo, hi = moved.fpr_interval
            assert lo <= after <= hi
    with pytest.raises(ValueError, match="unreliable"):
        stratified_point(m, e, positive, le, unreliable="move", **kw)
    from graphguard.config import ConfigError

    with pytest.raises(ConfigError, match="unreliable_threshold"):
        ScoringConfig(unreliable_threshold="move")
    rng = np.random.default_rng(900)
    validation = _world(rng, 1500, 300, hard=True)
    lm, le, _ = _world(rng, 6000, 1200, hard=True)
    point = resolve_operating_point(
        ScoringConfig(target_fpr=0.01, unreliable_threshold="bracket"),
        model=stored_model(*validation),
        accounts=pl.DataFrame({"evidence_risk": le, "model_risk": lm}),
    )
    assert point.threshold_rule == "bracket"
    words = operating_point_words(SimpleNamespace(meta={"operating_point": point.to_dict()}))
    assert "the threshold moved to where the two estimates' mean meets the target" in words
