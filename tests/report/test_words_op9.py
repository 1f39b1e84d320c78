"""The operating-point sentence names where its false-positive rate was estimated, in plain
words, with the expected FPR and its interval; run.json's strings stay data in every report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from graphguard.report import load_run, render_markdown
from graphguard.report.html.run import render_run_html
from graphguard.report.summary import estimator_words, operating_point_words

HOSTILE = "<img src=x onerror=alert(1)>"

POINT = {
    "threshold": 0.19,
    "method": "validation",
    "target_fpr": 0.01,
    "expected_fpr": 0.0098,
    "fpr_interval": [0.0061, 0.0152],
    "expected_precision": 0.9,
    "precision_interval": [0.8, 0.95],
    "n_negatives": 1602,
    "n_positives": 100,
    "estimator": "log",
    "model_term": "pooled",
    "n_evidence_negatives": 20397,
    "n_model_log": 19650.2,
}


def _run(tmp_path: Path, point: dict):
    directory = tmp_path / "run"
    directory.mkdir()
    pl.DataFrame(
        {
            "account_id": ["a", HOSTILE],
            "cluster_id": [1, 1],
            "risk": [0.1, 0.9],
            "predicted_label": ["benign", "bot_ring"],
            "flagged": [False, True],
        }
    ).write_parquet(directory / "accounts.parquet")
    pl.DataFrame(
        {"cluster_id": [1], "size": [2], "suspicion": [0.5], "predicted_label": ["bot_ring"]}
    ).write_parquet(directory / "clusters.parquet")
    meta = {"summary": {"risk_threshold": point["threshold"]}, "operating_point": point}
    (directory / "run.json").write_text(json.dumps(meta))
    return load_run(directory)


def test_the_sentence_names_the_estimator_the_expected_fpr_and_its_interval(tmp_path):
    words = operating_point_words(_run(tmp_path, POINT))
    assert words == (
        "risk ≥ 0.19, for a target false-positive rate of 1.00%, estimated from this log's "
        "evidence and model risk of its 20,397 accounts and 1,602 validation negatives; "
        "expected false-positive rate 0.98% [0.61%, 1.52%], precision 90.00% [80.00%, 95.00%]"
    )


def test_each_estimator_has_its_own_words():
    assert estimator_words({**POINT, "model_term": "validation"}) == (
        "estimated from this log's evidence of its 20,397 accounts and 1,602 validation negatives"
    )
    assert estimator_words({**POINT, "estimator": "stratified", "n_evidence_negatives": 8014}) == (
        "estimated from the evidence of 8,014 labelled benign accounts of the training world "
        "and 1,602 validation negatives"
    )
    assert estimator_words({**POINT, "estimator": "validation"}) == (
        "estimated from 1,602 validation negatives"
    )
    assert estimator_words({"estimator": None}) is None


def test_a_fixed_threshold_says_it_was_set_and_where_its_fpr_comes_from(tmp_path):
    words = operating_point_words(_run(tmp_path, {**POINT, "method": "fixed", "target_fpr": None}))
    assert "as set (scoring.risk_threshold), its false-positive rate estimated from this log" in (
        words or ""
    )


def test_hostile_run_json_strings_stay_data(tmp_path):
    point = {
        **POINT,
        "estimator": HOSTILE,
        "model_term": HOSTILE,
        "n_negatives": HOSTILE,
        "n_evidence_negatives": "1e9|`x`",
    }
    run = _run(tmp_path, point)
    words = operating_point_words(run) or ""
    # an estimator the report does not know is named as unknown, never echoed
    assert "estimated by an unknown estimator" in words and HOSTILE not in words
    html = render_run_html(run)
    assert "onerror=alert(1)>" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "estimated by an unknown estimator" in render_markdown(run)
    # a count that is not a whole number is left out, not printed
    assert estimator_words({**POINT, "n_negatives": 2.5, "n_evidence_negatives": None}) == (
        "estimated from this log's evidence and model risk of its accounts and the validation "
        "negatives"
    )
