"""`graphguard dense`: writes its directory all or nothing, and says clearly what a log lacks."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.dense.fraudar import BLOCK_COLUMNS
from graphguard.dense.run import ACCOUNTS_FILE, BLOCKS_FILE, META_FILE, REFINED_FILE, REPORT_FILE
from tests.clicheck import assert_clean_error, assert_no_run_left, invoke


def ratings_csv(path, *, with_block: bool = True) -> None:
    """user,item,timestamp ratings (conf/data/ratings.yaml), a planted block if asked."""
    rng = np.random.default_rng(2)
    rows = []
    for u in range(300):
        for i in rng.choice(800, int(rng.integers(3, 25)), replace=False):
            rows.append((f"u{u}", f"m{i}", 880_000_000 + int(rng.integers(0, 10**7))))
    if with_block:
        for a in range(25):
            for i in range(20):
                rows.append((f"fake{a}", f"new{i}", 880_000_000 + 86400 * a + i))
    pl.DataFrame(rows, schema=["user", "item", "timestamp"], orient="row").write_csv(path)


def test_dense_writes_blocks_accounts_and_a_report(tmp_path):
    log = tmp_path / "ratings.csv"
    ratings_csv(log)
    out = tmp_path / "dense"
    args = ["dense", log, "--out", out, "--data", "ratings", "--blocks", "3"]
    result = invoke(*args, "--set", "graph.engagement_types=[rate]")
    assert result.exit_code == 0, result.output
    assert "flagged" in result.stdout
    files = {BLOCKS_FILE, ACCOUNTS_FILE, REPORT_FILE, META_FILE, REFINED_FILE}
    assert {p.name for p in out.iterdir()} == files
    blocks = pl.read_parquet(out / BLOCKS_FILE)
    assert blocks.columns[: len(BLOCK_COLUMNS)] == list(BLOCK_COLUMNS)
    top = blocks.row(0, named=True)
    assert sorted(top["accounts"]) == sorted(f"fake{a}" for a in range(25))
    assert top["flagged"] and top["q_value"] < 0.001
    accounts = pl.read_parquet(out / ACCOUNTS_FILE)
    assert accounts.filter(pl.col("flagged")).height == 25
    report = (out / REPORT_FILE).read_text()
    assert "its 25 members share 20 targets that no other account engages" in report
    # a second run into the same place needs --overwrite
    again = invoke(*args, "--set", "graph.engagement_types=[rate]")
    assert_clean_error(again, "--overwrite")


def test_dense_on_a_log_without_targets_fails_cleanly_and_writes_nothing(tmp_path):
    log = tmp_path / "logins.csv"
    log.write_text("user,item,timestamp\na,,1000000000\nb,,1000000001\nc,,1000000002\n")
    out = tmp_path / "dense"
    result = invoke(
        "dense", log, "--out", out, "--data", "ratings", "--set", "graph.engagement_types=[rate]"
    )
    assert_clean_error(result, "logins.csv", "target_id", "no event has a target_id")
    assert_no_run_left(out)


def test_dense_names_the_engagement_types_a_log_lacks(tmp_path):
    log = tmp_path / "ratings.csv"
    ratings_csv(log, with_block=False)
    out = tmp_path / "dense"
    # ratings.yaml calls every row 'rate', which the default engagement types do not include
    result = invoke("dense", log, "--out", out, "--data", "ratings")
    assert_clean_error(result, "graph.engagement_types", "like, comment, share, follow")
    assert_no_run_left(out)


def test_dense_refuses_a_bad_setting_as_a_usage_error(tmp_path):
    log = tmp_path / "ratings.csv"
    ratings_csv(log, with_block=False)
    result = invoke("dense", log, "--out", tmp_path / "d", "--set", "dense.objective=biggest")
    assert_clean_error(result, "dense.objective", code=2)
