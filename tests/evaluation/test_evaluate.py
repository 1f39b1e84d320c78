"""Tests for graphguard.evaluation.evaluate on a hand-built run with answers worked out on paper.

The planted world: campaign A (device_farm, 4 bot accounts, 3 flagged: caught) and campaign B
(engagement_pod, 3 fake-engagement accounts, 1 flagged, one never seen by the run: missed);
5 ordinary benign accounts (1 flagged), 2 cgnat hard negatives (1 flagged) and 1 campus_wifi hard
negative (not flagged); one run account has no truth row.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from graphguard.evaluation.evaluate import evaluate, evaluate_run, format_evaluation
from graphguard.schema import ACCOUNT, TRUTH_SCHEMA

TRUTH_ROWS = [
    # account, label, campaign, kind, hard negative
    ("a1", "bot_ring", "A", "device_farm", None),
    ("a2", "bot_ring", "A", "device_farm", None),
    ("a3", "bot_ring", "A", "device_farm", None),
    ("a4", "bot_ring", "A", "device_farm", None),
    ("b1", "fake_engagement", "B", "engagement_pod", None),
    ("b2", "fake_engagement", "B", "engagement_pod", None),
    ("b3", "fake_engagement", "B", "engagement_pod", None),  # missing from the run
    ("n1", "benign", None, None, None),
    ("n2", "benign", None, None, None),
    ("n3", "benign", None, None, None),
    ("n4", "benign", None, None, None),
    ("n5", "benign", None, None, None),
    ("h1", "benign", None, None, "cgnat"),
    ("h2", "benign", None, None, "cgnat"),
    ("h3", "benign", None, None, "campus_wifi"),
]

ACCOUNT_ROWS = [
    # account, cluster, risk, predicted label
    ("a1", 1, 0.90, "bot_ring"),
    ("a2", 1, 0.80, "bot_ring"),
    ("a3", 1, 0.70, "fake_engagement"),
    ("a4", None, 0.30, "benign"),
    ("b1", 2, 0.95, "fake_engagement"),
    ("b2", 2, 0.20, "benign"),
    ("n1", 2, 0.60, "bot_ring"),
    ("n2", None, 0.10, "benign"),
    ("n3", None, 0.10, "benign"),
    ("n4", None, 0.05, "benign"),
    ("n5", None, 0.00, "benign"),
    ("h1", 3, 0.85, "bot_ring"),
    ("h2", 3, 0.40, "benign"),
    ("h3", 3, 0.20, "benign"),
    ("u1", 1, 0.99, "bot_ring"),  # unlabelled
]


def make_truth() -> pl.DataFrame:
    return pl.DataFrame(TRUTH_ROWS, schema=TRUTH_SCHEMA, orient="row")


def make_accounts(*, flagged: bool = False) -> pl.DataFrame:
    accounts = pl.DataFrame(
        ACCOUNT_ROWS,
        schema={
            ACCOUNT: pl.String,
            "cluster_id": pl.Int64,
            "risk": pl.Float64,
            "predicted_label": pl.String,
        },
        orient="row",
    )
    if flagged:
        accounts = accounts.with_columns(flagged=pl.col("risk") >= 0.5)
    return accounts


@pytest.fixture(scope="module")
def metrics() -> dict:
    return evaluate(make_accounts(), make_truth())


def test_result_is_strict_json(metrics: dict) -> None:
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics


def test_account_metrics(metrics: dict) -> None:
    accounts = metrics["accounts"]
    assert metrics["flag_rule"] == {"source": "risk >= threshold", "threshold": 0.5}
    assert (accounts["n_abusive"], accounts["n_benign"], accounts["n_flagged"]) == (7, 8, 6)
    # Flagged: a1 a2 a3 b1 (abusive), n1 h1 (benign).
    assert accounts["precision"] == pytest.approx(4 / 6)
    assert accounts["recall"] == pytest.approx(4 / 7)
    # Pairwise wins of abusive over benign risk (ties half): 8 + 8 + 7 + 7 + 5 + 4.5 + 0.5 = 40.
    assert accounts["auroc"] == pytest.approx(40 / 56)
    # Precision at each abusive hit, in risk order: 1, 1, 3/4, 4/5, 5/8, 6/10, 7/15.
    expected_ap = (1 + 1 + 3 / 4 + 4 / 5 + 5 / 8 + 6 / 10 + 7 / 15) / 7
    assert accounts["auprc"] == pytest.approx(expected_ap)
    # With 8 benign accounts, 1% FPR allows no false positive: only b1 and a1 rank above h1.
    assert accounts["recall_at_1pct_fpr"] == pytest.approx(2 / 7)


def test_coverage(metrics: dict) -> None:
    assert metrics["coverage"] == {
        "truth_accounts": 15,
        "run_accounts": 15,
        "missing_from_run": 1,
        "unlabelled_in_run": 1,
    }


def test_campaigns_caught_and_missed(metrics: dict) -> None:
    campaigns = metrics["campaigns"]
    assert (campaigns["n"], campaigns["n_caught"], campaigns["caught_share"]) == (2, 1, 0.5)
    assert campaigns["by_kind"] == {
        "device_farm": {"n": 1, "n_caught": 1, "caught_share": 1.0, "mean_recall": 0.75},
        "engagement_pod": {
            "n": 1,
            "n_caught": 0,
            "caught_share": 0.0,
            "mean_recall": pytest.approx(1 / 3),
        },
    }
    by_id = {row["campaign_id"]: row for row in campaigns["list"]}
    # A: 3 of its 4 accounts in cluster 1, which also holds unlabelled u1 -> 3 / (4 + 4 - 3).
    assert by_id["A"] == {
        "campaign_id": "A",
        "campaign_kind": "device_farm",
        "size": 4,
        "recall": 0.75,
        "caught": True,
        "best_cluster_id": 1,
        "best_cluster_jaccard": pytest.approx(0.6),
    }
    # B: b1 b2 in cluster 2 with benign n1; b3 never reached the run -> 2 / (3 + 3 - 2).
    assert by_id["B"]["caught"] is False
    assert by_id["B"]["size"] == 3
    assert by_id["B"]["best_cluster_id"] == 2
    assert by_id["B"]["best_cluster_jaccard"] == pytest.approx(0.5)


def test_catch_share_moves_the_bar() -> None:
    strict = evaluate(make_accounts(), make_truth(), catch_share=0.8)
    assert strict["campaigns"]["n_caught"] == 0
    lenient = evaluate(make_accounts(), make_truth(), catch_share=0.3)
    assert lenient["campaigns"]["n_caught"] == 2


def test_false_positive_rates(metrics: dict) -> None:
    fp = metrics["false_positive_rate"]
    assert fp["benign_population"] == pytest.approx(1 / 5)
    assert fp["hard_negatives"] == {
        "campus_wifi": {"n": 1, "fpr": 0.0},
        "cgnat": {"n": 2, "fpr": 0.5},
    }
    assert fp["all_benign"] == pytest.approx(2 / 8)
    assert (fp["n_benign_population"], fp["n_all_benign"]) == (5, 8)


def test_clusters_vs_campaigns(metrics: dict) -> None:
    partition = metrics["clusters_vs_campaigns"]
    # Abusive accounts a1..a4, b1..b3: a4 and b3 are in no cluster, so each is its own group.
    planted = [0, 0, 0, 0, 1, 1, 1]
    found = [1, 1, 1, 100, 2, 2, 101]
    assert partition["ari"] == pytest.approx(adjusted_rand_score(planted, found))
    assert partition["nmi"] == pytest.approx(normalized_mutual_info_score(planted, found))
    assert partition["mean_best_jaccard"] == pytest.approx((0.6 + 0.5) / 2)
    # Clusters 1 (4/4 flagged) and 2 (2/3) are flagged, 3 (1/3) is not; their labelled members
    # a1 a2 a3 b1 b2 n1 are 5/6 abusive (unlabelled u1 does not count).
    assert partition["reported_cluster_purity"] == pytest.approx(5 / 6)
    assert partition["n_flagged_clusters"] == 2


def test_class_accuracy_and_confusion(metrics: dict) -> None:
    classes = metrics["classes"]
    # Flagged abusive: a1 a2 bot_ring -> bot_ring, a3 bot_ring -> fake, b1 fake -> fake.
    assert classes["n"] == 4
    assert classes["accuracy"] == pytest.approx(3 / 4)
    assert classes["confusion"] == {
        "bot_ring": {"benign": 0, "bot_ring": 2, "fake_engagement": 1},
        "fake_engagement": {"benign": 0, "bot_ring": 0, "fake_engagement": 1},
    }


def test_classes_absent_without_predicted_label() -> None:
    result = evaluate(make_accounts().drop("predicted_label"), make_truth())
    assert result["classes"] is None


def test_flagged_column_is_used_unless_a_threshold_is_given() -> None:
    # Flag only a1: a flagged column that disagrees with risk >= 0.5 must win.
    only_a1 = make_accounts().with_columns(flagged=pl.col(ACCOUNT) == "a1")
    result = evaluate(only_a1, make_truth())
    assert result["flag_rule"]["source"] == "flagged column"
    assert result["accounts"]["n_flagged"] == 1
    assert result["accounts"]["precision"] == 1.0
    overridden = evaluate(only_a1, make_truth(), threshold=0.75)
    # risk >= 0.75: a1 a2 b1 h1.
    assert overridden["accounts"]["n_flagged"] == 4
    assert overridden["accounts"]["precision"] == pytest.approx(3 / 4)


def test_no_benign_accounts_gives_null_ranking_metrics() -> None:
    truth = make_truth().filter(pl.col("label") != "benign")
    result = evaluate(make_accounts(), truth)
    assert result["accounts"]["auroc"] is None
    assert result["accounts"]["auprc"] is None
    assert result["accounts"]["recall_at_1pct_fpr"] is None
    assert result["false_positive_rate"]["all_benign"] is None
    assert result["false_positive_rate"]["hard_negatives"] == {}
    assert result["accounts"]["recall"] == pytest.approx(4 / 7)
    json.dumps(result, allow_nan=False)


def test_no_abusive_accounts_gives_nulls() -> None:
    truth = make_truth().filter(pl.col("label") == "benign")
    result = evaluate(make_accounts(), truth)
    assert result["accounts"]["auroc"] is None
    assert result["accounts"]["recall"] is None
    assert result["accounts"]["precision"] == 0.0
    assert result["campaigns"]["n"] == 0
    assert result["campaigns"]["caught_share"] is None
    assert result["clusters_vs_campaigns"]["ari"] is None
    assert result["clusters_vs_campaigns"]["mean_best_jaccard"] is None
    assert result["classes"]["accuracy"] is None
    json.dumps(result, allow_nan=False)
    assert "n/a" in format_evaluation(result)


def test_plain_labels_file_without_campaign_columns() -> None:
    labels = make_truth().select(ACCOUNT, "label")
    result = evaluate(make_accounts(), labels)
    assert result["campaigns"]["n"] == 0
    assert result["false_positive_rate"]["benign_population"] == pytest.approx(2 / 8)
    assert result["accounts"]["auroc"] == pytest.approx(40 / 56)


def test_missing_truth_column_is_named() -> None:
    with pytest.raises(ValueError, match=r"truth: missing column 'label'"):
        evaluate(make_accounts(), make_truth().drop("label"))


def test_missing_risk_column_is_named() -> None:
    with pytest.raises(ValueError, match=r"accounts: missing column 'risk'"):
        evaluate(make_accounts().drop("risk"), make_truth())


def test_bad_truth_values_are_reported_with_an_example() -> None:
    bad_label = make_truth().with_columns(
        label=pl.when(pl.col(ACCOUNT) == "n1").then(pl.lit("spam")).otherwise("label")
    )
    with pytest.raises(ValueError, match=r"'label'.*'spam'"):
        evaluate(make_accounts(), bad_label)
    duplicated = pl.concat([make_truth(), make_truth().head(1)])
    with pytest.raises(ValueError, match=r"duplicated.*'a1'"):
        evaluate(make_accounts(), duplicated)


def test_columns_of_the_wrong_type_are_named() -> None:
    with pytest.raises(ValueError, match=r"truth: column 'label' must be text, got Float64"):
        evaluate(make_accounts(), make_truth().with_columns(label=pl.lit(1.5)))
    with pytest.raises(ValueError, match=r"accounts: column 'risk' must be numeric"):
        evaluate(make_accounts().with_columns(pl.col("risk").cast(pl.String)), make_truth())


def test_missing_risk_values_are_rejected() -> None:
    nan_risk = make_accounts().with_columns(
        risk=pl.when(pl.col(ACCOUNT) == "a1").then(float("nan")).otherwise("risk")
    )
    with pytest.raises(ValueError, match=r"accounts: column 'risk' has 1 null or NaN value"):
        evaluate(nan_risk, make_truth())


def test_integer_ids_match_string_ids() -> None:
    numbered = {
        f"{prefix}{i}": str(100 * k + i) for k, prefix in enumerate("abnhu") for i in range(6)
    }
    truth = make_truth().with_columns(pl.col(ACCOUNT).replace_strict(numbered).cast(pl.Int64))
    accounts = make_accounts().with_columns(pl.col(ACCOUNT).replace_strict(numbered))
    assert (
        evaluate(accounts, truth)["accounts"] == evaluate(make_accounts(), make_truth())["accounts"]
    )


def _write_run(run_dir: Path, accounts: pl.DataFrame, threshold: float) -> None:
    run_dir.mkdir()
    accounts.write_parquet(run_dir / "accounts.parquet")
    pl.DataFrame(
        {"cluster_id": [1], "size": [4], "suspicion": [0.9], "predicted_label": ["bot_ring"]}
    ).write_parquet(run_dir / "clusters.parquet")
    meta = {"summary": {"risk_threshold": threshold}, "ingest": {}, "community": {}}
    (run_dir / "run.json").write_text(json.dumps(meta))


def test_evaluate_run_uses_the_runs_threshold(tmp_path: Path) -> None:
    _write_run(tmp_path / "run", make_accounts(), threshold=0.75)
    truth_path = tmp_path / "truth.parquet"
    make_truth().write_parquet(truth_path)
    result = evaluate_run(tmp_path / "run", truth_path)
    assert result["flag_rule"] == {"source": "risk >= threshold", "threshold": 0.75}
    assert result["accounts"]["n_flagged"] == 4


def test_evaluate_run_reads_csv_labels_and_names_the_file(tmp_path: Path) -> None:
    _write_run(tmp_path / "run", make_accounts(flagged=True), threshold=0.5)
    labels_path = tmp_path / "labels.csv"
    make_truth().select(ACCOUNT, "label").write_csv(labels_path)
    result = evaluate_run(tmp_path / "run", labels_path)
    assert result["accounts"]["n_flagged"] == 6
    make_truth().select(ACCOUNT).write_csv(labels_path)
    with pytest.raises(ValueError, match=r"labels\.csv: missing column 'label'"):
        evaluate_run(tmp_path / "run", labels_path)
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        evaluate_run(tmp_path / "run", tmp_path / "nope.parquet")


def test_format_evaluation_mentions_the_headline_numbers(metrics: dict) -> None:
    text = format_evaluation(metrics)
    assert "AUROC 0.714" in text
    assert "caught 1/2 (50.0%)" in text
    assert "cgnat" in text and "50.0% of 2" in text
    assert "1 truth accounts missing" in text
    assert len(text.splitlines()) <= 15
