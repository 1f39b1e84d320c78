"""`graphguard cases ...`: the commands, their output, their errors, and the labels round trip
into `graphguard train`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from graphguard.casestore import CaseStore
from tests.casestore.casework import make_run, ring
from tests.clicheck import assert_clean_error, invoke, runner

HOSTILE_CASE = "[bold red]boom[/]'; DROP TABLE cases; --"


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """(database, day-1 run) with an ordinary campaign and one whose id is hostile."""
    run = make_run(
        tmp_path / "day1", {"c-a": ring("a", 6), HOSTILE_CASE: ["[red]x[/]", "\x1b[2Jy"]}
    )
    return tmp_path / "cases.db", run


def test_the_daily_commands_work_the_queue(world: tuple[Path, Path], tmp_path: Path):
    db, run = world
    result = invoke("cases", "sync", run, "--db", db, "--actor", "ana")
    assert result.exit_code == 0, result.output
    assert "2 campaigns, 2 new" in result.stdout and "2 to review" in result.stdout
    assert "already synced" in invoke("cases", "sync", run, "--db", db).stdout

    listed = invoke("cases", "list", "--db", db, "--status", "open")
    assert listed.exit_code == 0 and "c-a" in listed.stdout
    assert HOSTILE_CASE in listed.stdout  # printed as data: the markup is still there

    result = invoke(
        "cases", "decide", "c-a", "--verdict", "confirmed", "--label", "fake_engagement",
        "--except", "a-002", "--note", "one device", "--db", db, "--actor", "ana",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "confirmed as fake_engagement on 6 members, 1 exceptions" in result.stdout
    assert invoke("cases", "assign", HOSTILE_CASE, "--to", "bob", "--db", db).exit_code == 0
    assert invoke("cases", "note", HOSTILE_CASE, "[link]x[/link]", "--db", db).exit_code == 0
    result = invoke("cases", "decide", HOSTILE_CASE, "--verdict", "dismissed", "--db", db)
    assert result.exit_code == 0, result.output

    shown = invoke("cases", "show", HOSTILE_CASE, "--db", db)
    assert shown.exit_code == 0, shown.output
    assert HOSTILE_CASE in shown.stdout and "[link]x[/link]" in shown.stdout
    assert "\x1b" not in shown.stdout  # control characters are inert
    assert "assign" in shown.stdout and "decide" in shown.stdout

    as_json = json.loads(invoke("cases", "show", "c-a", "--db", db, "--json").stdout)
    assert as_json["summary"]["status"] == "confirmed" and as_json["exceptions"] == ["a-002"]
    assert [e["actor"] for e in as_json["audit"]] == ["ana", "ana", "ana"]
    queue = json.loads(invoke("cases", "list", "--db", db, "--json", "--sort", "size").stdout)
    assert [c["id"] for c in queue] == ["c-a", HOSTILE_CASE]
    assert (
        "no cases with status open"
        in invoke("cases", "list", "--status", "open", "--db", db).stdout
    )

    labels = tmp_path / "labels.csv"
    result = invoke("cases", "labels", "--out", labels, "--db", db)
    assert result.exit_code == 0, result.output
    assert "8 labels (3 benign, 5 fake_engagement)" in result.stderr
    written = pl.read_csv(labels)
    assert written.columns == ["account_id", "label"] and written.height == 8
    refused = invoke("cases", "labels", "--out", labels, "--db", db)
    assert_clean_error(refused, "exists", "--overwrite")
    assert invoke("cases", "labels", "--out", labels, "--db", db, "--overwrite").exit_code == 0


def test_the_database_comes_from_the_flag_the_environment_or_the_config(
    world: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    db, run = world
    from_env = tmp_path / "env.db"
    from_set = tmp_path / "set.db"
    result = runner.invoke(
        __import__("graphguard.cli", fromlist=["app"]).app,
        ["cases", "sync", str(run)],
        env={"GRAPHGUARD_CASES_DB": str(from_env), "GRAPHGUARD_DEBUG": None},
    )
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("GRAPHGUARD_CASES_DB", raising=False)
    assert invoke("cases", "sync", run, "--set", f"cases.db={from_set}").exit_code == 0
    assert invoke("cases", "sync", run, "--db", db).exit_code == 0
    for path in (from_env, from_set, db):
        with CaseStore.open(path) as store:
            assert [c.id for c in store.list_cases()] == ["c-a", HOSTILE_CASE]


def test_cases_commands_fail_cleanly(world: tuple[Path, Path], tmp_path: Path):
    db, run = world
    assert invoke("cases", "sync", run, "--db", db).exit_code == 0
    assert_clean_error(invoke("cases", "show", "nope", "--db", db), "no case 'nope'")
    assert_clean_error(
        invoke("cases", "decide", "c-a", "--verdict", "maybe", "--db", db),
        "unknown verdict 'maybe'; choose from confirmed, dismissed",
        code=2,
    )
    assert_clean_error(
        invoke("cases", "decide", "c-a", "--verdict", "confirmed", "--except", "zz", "--db", db),
        "'zz' is not a member of case 'c-a'",
        code=2,
    )
    assert_clean_error(
        invoke("cases", "list", "--sort", "name", "--db", db), "unknown sort", code=2
    )
    assert_clean_error(invoke("cases", "sync", tmp_path / "nowhere", "--db", db), "no such run")
    assert_clean_error(
        invoke("cases", "list", "--db", tmp_path / "no" / "cases.db"), "does not exist"
    )
    assert_clean_error(
        invoke("cases", "list", "--db", "postgresql://ana:hunter2@127.0.0.1:1/x?connect_timeout=2"),
        "127.0.0.1:1",
    )
    assert_clean_error(
        invoke("cases", "labels", "--out", tmp_path / "labels.parquet", "--db", db),
        "no case has been decided",
    )
    assert not (tmp_path / "labels.parquet").exists()
    assert_clean_error(
        invoke("cases", "sync", run, "--db", db, "--set", "cases.requeue_min_new=0"),
        "cases.requeue_min_new must be at least 1",
        code=2,
    )


def test_decided_cases_become_labels_that_train_reads(ring_log: Path, tmp_path: Path):
    run = tmp_path / "run"
    assert invoke("detect", ring_log, "--out", run, "-q").exit_code == 0
    clusters = pl.read_parquet(run / "clusters.parquet")
    if "campaign_id" not in clusters.columns:  # before detect wrote campaign ids
        ids = pl.format("c-{}", pl.col("cluster_id"))
        clusters.with_columns(campaign_id=ids).write_parquet(run / "clusters.parquet")
    db = tmp_path / "cases.db"
    assert invoke("cases", "sync", run, "--db", db).exit_code == 0
    with CaseStore.open(db) as store:
        cases = store.list_cases()
        ring_case = next(c for c in cases if "ring0" in store.get_case(c.id).members)
        members = store.get_case(ring_case.id).members
    args = ["--verdict", "confirmed", "--label", "bot_ring", "--except", members[0]]
    assert invoke("cases", "decide", ring_case.id, *args, "--db", db).exit_code == 0
    for other in cases:
        if other.id != ring_case.id:
            invoke("cases", "decide", other.id, "--verdict", "dismissed", "--db", db)
    labels = tmp_path / "decided.parquet"
    assert invoke("cases", "labels", "--out", labels, "--db", db).exit_code == 0
    model = tmp_path / "model.pt"
    result = invoke("train", ring_log, "--labels", labels, "--out", model, "--epochs", "2", "-q")
    assert result.exit_code == 0, result.output
    assert model.is_file()
    shutil.rmtree(run)
