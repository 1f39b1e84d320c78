"""The run directory as the contract: what detect writes keeps the declaration, a table that
breaks it is refused before anything is written, and readers name the file and column."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from graphguard import rundir
from graphguard.pipeline.detect import detect, run_detection
from graphguard.rundir.cases import load_cases, top_cluster_ids
from graphguard.scores import noisy_or


@pytest.fixture(scope="module")
def ring_run(ring_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rundir") / "run"
    run_detection(ring_log, out)
    return out


def test_a_written_run_keeps_its_own_contract(ring_run: Path) -> None:
    assert rundir.check_run(ring_run) == []
    accounts = pl.read_parquet(ring_run / rundir.ACCOUNTS_FILE)
    declared = [c.name for c in rundir.ACCOUNT_COLUMNS if c.required]
    assert accounts.columns[: len(declared)] == declared
    clusters = pl.read_parquet(ring_run / rundir.CLUSTERS_FILE)
    assert tuple(clusters.columns[: len(rundir.CLUSTER_LEADING)]) == rundir.CLUSTER_LEADING


def test_risk_is_the_noisy_or_of_the_two_stored_parts(ring_run: Path) -> None:
    accounts = pl.read_parquet(ring_run / rundir.ACCOUNTS_FILE)
    combined = accounts.select(
        noisy_or(pl.col(rundir.BEHAVIOUR_PART), pl.col(rundir.INFRASTRUCTURE_PART))
        .clip(0.0, 1.0)
        .alias("combined"),
        rundir.RISK,
    )
    assert (combined["combined"] - combined[rundir.RISK]).abs().max() == 0.0
    ring = accounts.filter(pl.col("account_id").str.starts_with("ring"))
    assert (ring[rundir.BEHAVIOUR_PART] > 0.5).all()  # the ring's lockstep likes
    assert (ring[rundir.N_SYNCED_TARGETS] >= 3).all()


def test_evidence_line_and_sentences_are_stored_together(ring_run: Path) -> None:
    clusters = pl.read_parquet(ring_run / rundir.CLUSTERS_FILE)
    top = clusters.row(0, named=True)
    sentences = [fact["text"] for fact in top[rundir.EVIDENCE_FACTS]]
    assert any("devices other members also used" in s for s in sentences)
    assert "devices other members also used" in top[rundir.EVIDENCE]
    assert {fact["level"] for fact in top[rundir.EVIDENCE_FACTS]} <= {"", "notable", "strong"}


def test_run_json_records_flagged_counts(ring_run: Path) -> None:
    meta = json.loads((ring_run / rundir.META_FILE).read_text())
    clusters = pl.read_parquet(ring_run / rundir.CLUSTERS_FILE)
    accounts = pl.read_parquet(ring_run / rundir.ACCOUNTS_FILE)
    threshold = meta["summary"]["risk_threshold"]
    assert meta["summary"]["clusters_flagged"] == int((clusters["suspicion"] >= threshold).sum())
    assert meta["summary"]["accounts_flagged"] == int(accounts["flagged"].sum())
    assert meta["label_curve"] is None  # no labels were given


def test_labels_given_to_detect_leave_their_curve_in_run_json(
    ring_events: pl.DataFrame, tmp_path: Path
) -> None:
    accounts = ring_events.get_column("account_id").unique().sort()
    labels = pl.DataFrame({"account_id": accounts}).with_columns(
        pl.when(pl.col("account_id").str.starts_with("ring"))
        .then(pl.lit("bot_ring"))
        .otherwise(pl.lit("benign"))
        .alias("label")
    )
    events_path, labels_path = tmp_path / "events.parquet", tmp_path / "labels.parquet"
    ring_events.write_parquet(events_path)
    labels.write_parquet(labels_path)
    run_detection(events_path, tmp_path / "run", labels_path=labels_path)
    curve = json.loads((tmp_path / "run" / rundir.META_FILE).read_text())["label_curve"]
    assert curve["source"] == "labels given to detect"
    assert curve["n_abusive"] == 10 and curve["n_accounts"] == labels.height
    assert curve["average_precision"] > 0.99 and curve["recall_at_flag"] == 1.0
    assert len(curve["recall"]) == len(curve["precision"]) > 1


def test_a_table_that_breaks_the_contract_is_refused_before_writing(
    ring_events: pl.DataFrame, tmp_path: Path
) -> None:
    result = detect(ring_events)
    contents = rundir.RunContents(
        accounts=result.accounts.drop(rundir.BEHAVIOUR_PART),
        clusters=result.clusters,
        account_edges=result.account_edges,
        entity_edges=result.entity_edges,
        cluster_activity=result.cluster_activity,
        meta={},
    )
    with pytest.raises(ValueError, match="accounts.parquet: missing column 'behaviour_part'"):
        rundir.write_run(contents, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    retyped = rundir.RunContents(
        **{
            **contents.__dict__,
            "accounts": result.accounts.with_columns(pl.col("risk").cast(pl.Float32)),
        }
    )
    with pytest.raises(ValueError, match="column 'risk' is Float32"):
        rundir.write_run(retyped, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_readers_name_the_file_and_column(ring_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    broken.mkdir()
    for name in (rundir.CLUSTERS_FILE, rundir.META_FILE):
        (broken / name).write_bytes((ring_run / name).read_bytes())
    pl.read_parquet(ring_run / rundir.ACCOUNTS_FILE).drop("risk").write_parquet(
        broken / rundir.ACCOUNTS_FILE
    )
    with pytest.raises(ValueError, match="accounts.parquet: missing column 'risk'"):
        rundir.load_run(broken)
    assert "accounts.parquet: missing column 'risk'" in rundir.check_run(broken)


def test_cases_are_cut_from_the_run(ring_run: Path) -> None:
    run = rundir.load_run(ring_run)
    [case] = load_cases(run, top_cluster_ids(run, 1))
    assert case.members.height == case.cluster["size"]
    assert set(case.entity_edges["kind"].unique()) <= {"device", "ip", "target"}
    assert case.account_edges["internal"].any()


def test_the_library_refuses_a_run_that_would_replace_its_own_input(
    ring_events: pl.DataFrame, tmp_path: Path
) -> None:
    from graphguard.errors import OutputError

    events_path = tmp_path / "events.parquet"
    ring_events.write_parquet(events_path)
    with pytest.raises(OutputError, match="holds the input"):
        run_detection(events_path, tmp_path, overwrite=True)
    assert events_path.is_file()


def _chunked(frame: pl.DataFrame, fail_after: int | None = None) -> rundir.ChunkedTable:
    """``frame`` as a table of three chunks; raising after ``fail_after`` of them."""

    def chunks():
        step = max(1, -(-frame.height // 3))
        for k, start in enumerate(range(0, max(frame.height, 1), step)):
            if fail_after is not None and k == fail_after:
                raise RuntimeError("disk full")
            yield frame.slice(start, step)

    return rundir.ChunkedTable(chunks)


def test_a_table_written_in_chunks_reads_back_whole(ring_events: pl.DataFrame, tmp_path: Path):
    result = detect(ring_events)
    contents = rundir.RunContents(
        accounts=result.accounts,
        clusters=result.clusters,
        account_edges=_chunked(rundir.whole(result.account_edges)),
        entity_edges=_chunked(rundir.whole(result.entity_edges)),
        cluster_activity=result.cluster_activity,
        meta={},
    )
    rundir.write_run(contents, tmp_path / "run")
    assert rundir.check_run(tmp_path / "run") == []
    got = rundir.read_table(tmp_path / "run", rundir.ENTITY_EDGES_FILE)
    assert got.height > 3
    assert got.equals(rundir.whole(result.entity_edges))


def test_a_failure_while_writing_chunks_leaves_no_run(ring_events: pl.DataFrame, tmp_path: Path):
    result = detect(ring_events)
    base = dict(
        accounts=result.accounts,
        clusters=result.clusters,
        account_edges=rundir.whole(result.account_edges),
        cluster_activity=result.cluster_activity,
        meta={},
    )
    edges = rundir.whole(result.entity_edges)
    failing = rundir.RunContents(**base, entity_edges=_chunked(edges, fail_after=1))
    with pytest.raises(RuntimeError, match="disk full"):
        rundir.write_run(failing, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []
    # a chunk that breaks the contract is refused while writing, and leaves nothing either
    retyped = rundir.RunContents(
        **base, entity_edges=_chunked(edges.with_columns(pl.col("n_events").cast(pl.Int64)))
    )
    with pytest.raises(ValueError, match="column 'n_events' is Int64"):
        rundir.write_run(retyped, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []
    # an earlier run survives a failed overwrite
    rundir.write_run(rundir.RunContents(**base, entity_edges=edges), tmp_path / "run")
    with pytest.raises(RuntimeError, match="disk full"):
        rundir.write_run(failing, tmp_path / "run", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert rundir.read_table(tmp_path / "run", rundir.ENTITY_EDGES_FILE).equals(edges)


def test_run_json_is_made_once_the_tables_are_written(ring_events: pl.DataFrame, tmp_path: Path):
    """run.json may come as a function, called after the tables (so it can say how long they
    took to write); if it fails, nothing is left behind."""
    result = detect(ring_events)
    seen: list[list[str]] = []

    def meta() -> dict:
        partial = next(tmp_path.glob("*.partial"))
        seen.append(sorted(p.name for p in partial.iterdir() if not p.name.endswith(".tmp")))
        return {"written": seen[-1]}

    base = dict(
        accounts=result.accounts,
        clusters=result.clusters,
        account_edges=rundir.whole(result.account_edges),
        entity_edges=rundir.whole(result.entity_edges),
        cluster_activity=result.cluster_activity,
    )
    rundir.write_run(rundir.RunContents(**base, meta=meta), tmp_path / "run")
    assert seen == [sorted(rundir.TABLES)]
    assert rundir.read_meta(tmp_path / "run" / rundir.META_FILE) == {"written": seen[0]}

    def failing() -> dict:
        raise RuntimeError("no metadata")

    with pytest.raises(RuntimeError, match="no metadata"):
        rundir.write_run(rundir.RunContents(**base, meta=failing), tmp_path / "other")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
