"""`graphguard detect --previous` end to end: a chain of daily runs of the real pipeline keeps
the ring's campaign id (same, grown, then rotated accounts), the reports say what changed, and a
bad --previous fails before any work with one line naming the path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from graphguard import rundir, schema
from graphguard.campaigns import CAMPAIGN_ID_PATTERN, content_ids
from tests.clicheck import assert_clean_error, assert_no_run_left, invoke
from tests.worlds import bot_ring, frame, ordinary_users

ACC, PID, STATUS = schema.ACCOUNT, rundir.CAMPAIGN_ID, rundir.CAMPAIGN_STATUS


def day_log(ring_size: int, *, rotated: bool = False, seed: int = 3) -> pl.DataFrame:
    """Three hundred ordinary users and the ring (ring0.. on ring-dev*, 203.0.113.7, its own
    targets); ``rotated``: the ring's accounts replaced by new ones on the same infrastructure."""
    rng = np.random.default_rng(seed)
    events = frame(ordinary_users(rng, 300) + bot_ring(rng, size=ring_size, devices=3))
    if rotated:
        events = events.with_columns(pl.col(ACC).str.replace(r"^ring", "fresh"))
    return events


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three daily runs through the CLI: the ring, the ring grown by half, the ring rotated."""
    base = tmp_path_factory.mktemp("chain")
    logs = {
        "day1": day_log(12),
        "day2": day_log(18),
        "day3": day_log(18, rotated=True),
    }
    paths: dict[str, Path] = {}
    previous = None
    for day, events in logs.items():
        events.write_parquet(base / f"{day}.parquet")
        args = ["detect", base / f"{day}.parquet", "--out", base / day]
        if previous is not None:
            args += ["--previous", previous]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        paths[day] = previous = base / day
        paths[f"{day}_stdout"] = base / f"{day}.stdout"
        paths[f"{day}_stdout"].write_text(result.stdout)
    return paths


def ring_campaign(run_dir: Path, prefix: str = "ring") -> dict:
    """The campaign columns of the cluster holding most of the ring."""
    run = rundir.load_run(run_dir)
    ring = run.accounts.filter(pl.col(ACC).str.starts_with(prefix), pl.col(PID).is_not_null())
    campaign = ring.get_column(PID).mode().sort()[0]
    return run.clusters.filter(pl.col(PID) == campaign).to_dicts()[0]


def test_the_ring_keeps_its_id_across_the_chain(chain):
    one, two, three = (
        ring_campaign(chain["day1"]),
        ring_campaign(chain["day2"]),
        ring_campaign(chain["day3"], "fresh"),
    )
    assert CAMPAIGN_ID_PATTERN.fullmatch(one[PID])
    assert one[STATUS] == "new"
    assert two[PID] == one[PID] and two[STATUS] == "grown"
    assert two[rundir.PREVIOUS_SIZE] == one[rundir.SIZE]
    assert three[PID] == one[PID] and three[rundir.CAMPAIGN_MATCH] == "entities"
    assert three[STATUS] == "continuing"


def test_accounts_carry_their_clusters_campaign(chain):
    run = rundir.load_run(chain["day2"])
    joined = run.accounts.filter(pl.col(rundir.CLUSTER_ID).is_not_null()).join(
        run.clusters.select(
            rundir.CLUSTER_ID,
            pl.col(PID).alias("of_cluster"),
            pl.col(STATUS).alias("status_of_cluster"),
        ),
        on=rundir.CLUSTER_ID,
    )
    assert (joined.get_column(PID) == joined.get_column("of_cluster")).all()
    assert (joined.get_column(STATUS) == joined.get_column("status_of_cluster")).all()
    outside = run.accounts.filter(pl.col(rundir.CLUSTER_ID).is_null())
    assert outside.get_column(PID).null_count() == outside.height > 0
    assert rundir.check_run(chain["day2"]) == []


def test_run_json_records_the_previous_run_and_the_counts(chain):
    first = json.loads((chain["day1"] / rundir.META_FILE).read_text())[rundir.CAMPAIGNS_META]
    assert first["previous"] is None
    assert first["counts"]["new"] == rundir.load_run(chain["day1"]).clusters.height
    meta = json.loads((chain["day2"] / rundir.META_FILE).read_text())[rundir.CAMPAIGNS_META]
    assert meta["previous"]["path"] == str(chain["day1"])
    assert len(meta["previous"]["fingerprint"]) == 16
    clusters = rundir.load_run(chain["day2"]).clusters
    counts = clusters.get_column(STATUS).value_counts()
    assert meta["counts"] == {
        status: int(dict(counts.iter_rows()).get(status, 0)) for status in rundir.CAMPAIGN_STATUSES
    }
    assert sum(meta["counts"].values()) == clusters.height


def test_reports_say_what_changed(chain):
    ring = ring_campaign(chain["day2"])
    stdout = chain["day2_stdout"].read_text()
    assert "since the previous run" in stdout and ring[PID] in stdout
    markdown = (chain["day2"] / rundir.REPORT_FILE).read_text()
    assert "## Since the previous run" in markdown
    assert "- grown: " in markdown and ring[PID] in markdown
    assert "· grown from 12" in markdown
    first = (chain["day1"] / rundir.REPORT_FILE).read_text()
    assert "Since the previous run" not in first  # nothing to compare with
    result = invoke("report", chain["day3"], "--html", "--cases", "0")
    assert result.exit_code == 0, result.output
    html = (chain["day3"] / "report.html").read_text()
    assert "Since the previous run" in html and ring[PID] in html
    markdown = (chain["day3"] / rundir.REPORT_FILE).read_text()
    assert "matched through shared devices, IPs and targets" in markdown


def test_the_same_input_gives_the_same_ids(chain, tmp_path):
    again = tmp_path / "again"
    result = invoke(
        "detect",
        chain["day1"].parent / "day2.parquet",
        "--out",
        again,
        "--previous",
        chain["day1"],
        "-q",
    )
    assert result.exit_code == 0, result.output
    before = rundir.load_run(chain["day2"]).clusters.select(rundir.CLUSTER_ID, PID, STATUS)
    assert rundir.load_run(again).clusters.select(rundir.CLUSTER_ID, PID, STATUS).equals(before)


def test_help_names_the_flag():
    result = invoke("detect", "--help")
    assert "--previous" in result.stdout and "campaign_id" in result.stdout


def test_a_run_written_before_campaigns_can_start_a_chain(chain, tmp_path):
    old = tmp_path / "old-run"
    shutil.copytree(chain["day1"], old)
    campaign_columns = [
        rundir.CAMPAIGN_ID,
        rundir.CAMPAIGN_STATUS,
        rundir.PREVIOUS_CAMPAIGNS,
        rundir.CAMPAIGN_MATCH,
        rundir.PREVIOUS_SIZE,
    ]
    for name in (rundir.ACCOUNTS_FILE, rundir.CLUSTERS_FILE):
        table = pl.read_parquet(old / name)
        table.drop([c for c in campaign_columns if c in table.columns]).write_parquet(old / name)
    meta = json.loads((old / rundir.META_FILE).read_text())
    del meta[rundir.CAMPAIGNS_META]
    (old / rundir.META_FILE).write_text(json.dumps(meta))
    out = tmp_path / "next"
    result = invoke(
        "detect", chain["day1"].parent / "day2.parquet", "--out", out, "--previous", old, "-q"
    )
    assert result.exit_code == 0, result.output
    # the old run's clusters get the ids a run without --previous gives: those of day1
    assert ring_campaign(out)[PID] == ring_campaign(chain["day1"])[PID]
    members = rundir.load_run(old).accounts.filter(pl.col(rundir.CLUSTER_ID).is_not_null())
    assert ring_campaign(chain["day1"])[PID] in content_ids(members).get_column(PID).to_list()


# --------------------------------------------------------------------------------------------
# A bad --previous: one line naming the path, exit 1, nothing written


def _bad_previous(tmp_path: Path, chain: dict[str, Path], case: str) -> tuple[Path, str]:
    """A broken previous run of kind ``case`` and a fragment its error names."""
    target = tmp_path / f"prev-{case}"
    if case == "missing":
        return target, "no such directory"
    if case == "file":
        target.write_text("not a run")
        return target, "is a file"
    if case == "empty":
        target.mkdir()
        return target, "not a run directory written by graphguard detect (no accounts.parquet"
    shutil.copytree(chain["day1"], target)
    if case == "no_entity_edges":
        (target / rundir.ENTITY_EDGES_FILE).unlink()
        return target, "no entity_edges.parquet"
    if case == "newer_format":
        meta = json.loads((target / rundir.META_FILE).read_text())
        meta[rundir.CAMPAIGNS_META]["format"] = 99
        (target / rundir.META_FILE).write_text(json.dumps(meta))
        return target, "campaign format 99"
    if case == "not_graphguard":
        (target / rundir.META_FILE).write_text(json.dumps({"tool": "other"}))
        return target, "no graphguard_version"
    if case == "corrupt_clusters":
        (target / rundir.CLUSTERS_FILE).write_bytes(b"PAR1 truncated")
        return target, "clusters.parquet: cannot read Parquet file"
    if case == "no_account_column":
        pl.read_parquet(target / rundir.ACCOUNTS_FILE).drop(ACC).write_parquet(
            target / rundir.ACCOUNTS_FILE
        )
        return target, "accounts.parquet: missing column 'account_id'"
    if case == "hostile_campaign_id":
        clusters = pl.read_parquet(target / rundir.CLUSTERS_FILE)
        clusters.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("<script>\x1b[31m"))
            .otherwise(PID)
            .alias(PID)
        ).write_parquet(target / rundir.CLUSTERS_FILE)
        return target, "column 'campaign_id': holds a value that is not a campaign id"
    raise AssertionError(case)


BAD_CASES = [
    "missing",
    "file",
    "empty",
    "no_entity_edges",
    "newer_format",
    "not_graphguard",
    "corrupt_clusters",
    "no_account_column",
    "hostile_campaign_id",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_previous_fails_before_any_work(chain, tmp_path, case):
    previous, fragment = _bad_previous(tmp_path, chain, case)
    out = tmp_path / "out"
    result = invoke(
        "detect", chain["day1"].parent / "day2.parquet", "--out", out, "--previous", previous
    )
    line = assert_clean_error(result, str(previous), fragment)
    assert "\x1b" not in line
    # one stderr line (assert_clean_error): no stage began, so not even "read" was narrated
    assert_no_run_left(out)


def test_previous_cannot_be_the_output(chain, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(chain["day1"], copy)
    before = sorted(p.name for p in copy.iterdir())
    result = invoke(
        "detect",
        chain["day1"].parent / "day2.parquet",
        "--out",
        copy,
        "--previous",
        copy,
        "--overwrite",
    )
    assert_clean_error(result, str(copy))
    assert sorted(p.name for p in copy.iterdir()) == before
    inside = copy / "next"
    result = invoke(
        "detect", chain["day1"].parent / "day2.parquet", "--out", inside, "--previous", copy
    )
    assert_clean_error(result, str(inside))
    assert_no_run_left(inside)


def test_the_python_api_takes_previous_too(chain, tmp_path):
    from graphguard.campaigns import PreviousRunError
    from graphguard.pipeline.detect import run_detection

    events = chain["day1"].parent / "day2.parquet"
    result = run_detection(events, tmp_path / "api", previous=chain["day1"])
    assert result.campaigns["previous"]["path"] == str(chain["day1"])
    assert ring_campaign(tmp_path / "api")[PID] == ring_campaign(chain["day1"])[PID]
    with pytest.raises(PreviousRunError, match="no such directory"):
        run_detection(events, tmp_path / "api2", previous=tmp_path / "nowhere")
    assert_no_run_left(tmp_path / "api2")


def test_previous_reads_the_community_each_campaign_was_cut_from(chain, tmp_path):
    """`load_previous` maps each campaign to its clusters' pre_split_community (the sibling
    groups of the hub rule); a run written before the column existed has none."""
    from graphguard.campaigns.previous import load_previous

    previous = load_previous(chain["day1"])
    clusters = rundir.load_run(chain["day1"]).clusters
    assert previous.parents is not None
    expected = clusters.select(PID, pl.col(rundir.PRE_SPLIT_COMMUNITY)).sort(PID)
    assert previous.parents.sort(PID).equals(expected)
    old = tmp_path / "older-run"
    shutil.copytree(chain["day1"], old)
    pl.read_parquet(old / rundir.CLUSTERS_FILE).drop(rundir.PRE_SPLIT_COMMUNITY).write_parquet(
        old / rundir.CLUSTERS_FILE
    )
    assert load_previous(old).parents is None
