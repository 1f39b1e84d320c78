"""`graphguard explain`: why an account is risky, on run directories from the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from graphguard import schema
from graphguard.cli import app
from graphguard.export import load_cases
from graphguard.report.explain import explain_account, explain_members, format_explanation
from graphguard.rundir import load_run
from tests.worlds import (
    CONTROL_ID,
    HOSTILE_DEVICE,
    HOSTILE_IP,
    HTML_ID,
    RING_SIZE,
    hostile_cluster,
)

runner = CliRunner(env={"GRAPHGUARD_DEBUG": None})


def test_a_ring_member_is_explained_by_its_ring(hostile_run: Path) -> None:
    explanation = explain_account(hostile_run, HTML_ID)
    cluster = explanation["cluster"]
    assert cluster["cluster_id"] == hostile_cluster(hostile_run)
    assert cluster["size"] == RING_SIZE and cluster["rank"] == 1
    assert explanation["flagged"] is True and explanation["risk"] >= 0.5
    # Ties go to other ring members, carried by the relations the ring shares.
    others = {tie["other_id"] for tie in explanation["ties"]}
    members = set(
        load_run(hostile_run).accounts.filter(pl.col("cluster_id") == cluster["cluster_id"])[
            schema.ACCOUNT
        ]
    )
    assert others and others <= members - {HTML_ID}
    assert {tie["relation"] for tie in explanation["ties"]} <= {"device", "ip", "sync", "dense"}
    assert all(tie["weight"] > 0 and tie["internal"] for tie in explanation["ties"])
    # Its device and the ring's IP are shared with the others, devices listed first.
    shared = explanation["shared_entities"]
    assert (shared[0]["kind"], shared[0]["entity"]) == ("device", HOSTILE_DEVICE)
    assert shared[0]["other_members"] == RING_SIZE // 2 - 1
    assert ("ip", HOSTILE_IP, RING_SIZE - 1) in {
        (s["kind"], s["entity"], s["other_members"]) for s in shared
    }
    drivers = explanation["drivers"]
    assert drivers["main"] in {"behaviour", "infrastructure"}
    assert drivers[drivers["main"]] >= 0.5
    assert any("flag threshold" in s for s in drivers["sentences"])
    names = {p["name"]: p["value"] for p in explanation["participation"]}
    assert names["p_shared_device"] == 1.0  # every event of a ring account is on a farm device


def test_an_ordinary_user_has_no_cluster(hostile_run: Path) -> None:
    accounts = load_run(hostile_run).accounts
    loner = accounts.filter(pl.col("cluster_id").is_null())[schema.ACCOUNT][0]
    explanation = explain_account(hostile_run, loner)
    assert explanation["cluster"] is None
    assert explanation["drivers"]["main"] == "none"
    assert "in no cluster" in explanation["drivers"]["sentences"][0]
    assert explanation["shared_entities"] == []


def test_a_bystander_in_a_suspicious_cluster_is_told_apart(simulated_run: Path) -> None:
    """A low-risk member of a flagged cluster: the explanation says the cluster's evidence does
    not pass to it."""
    run = load_run(simulated_run)
    flagged = run.clusters.filter(pl.col("suspicion") >= 0.5)["cluster_id"]
    bystanders = run.accounts.filter(
        pl.col("cluster_id").is_in(flagged.implode()) & (pl.col("risk") < 0.1)
    )
    if bystanders.is_empty():
        pytest.skip("this world has no low-risk member in a flagged cluster")
    explanation = explain_account(run, bystanders[schema.ACCOUNT][0])
    assert explanation["drivers"]["main"] == "none"
    assert any("bystander" in s for s in explanation["drivers"]["sentences"])


def test_members_explanations_match_the_single_account_one(hostile_run: Path) -> None:
    case = load_cases(hostile_run, [hostile_cluster(hostile_run)])[0]
    every = explain_members(case, ties=8, shared=10)
    assert set(every) == set(case.members[schema.ACCOUNT])
    assert every[HTML_ID] == explain_account(hostile_run, HTML_ID)


def test_unknown_account_is_an_error(hostile_run: Path) -> None:
    with pytest.raises(ValueError, match="account 'nobody' is not in accounts.parquet"):
        explain_account(hostile_run, "nobody")
    result = runner.invoke(app, ["explain", str(hostile_run), "nobody"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: account 'nobody' is not in accounts.parquet"


def test_cli_text_is_inert_and_json_is_exact(hostile_run: Path) -> None:
    result = runner.invoke(app, ["explain", str(hostile_run), CONTROL_ID])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "Account evil\ufffd[31mred: risk" in result.stdout
    assert "What drove its risk" in result.stdout
    as_json = runner.invoke(app, ["explain", str(hostile_run), CONTROL_ID, "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["account_id"] == CONTROL_ID


def test_format_explanation_lists_ties_and_shared_entities(hostile_run: Path) -> None:
    text = format_explanation(explain_account(hostile_run, HTML_ID, ties=3, shared=2))
    assert "Strongest ties (3):" in text
    assert "shared with other members (2):" in text
    assert f"device  {HOSTILE_DEVICE}" in text
