"""The case store's operations, each with its audit entry, on SQLite and PostgreSQL (`db`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from graphguard.casestore import (
    AppendOnlyViolation,
    CaseNotFound,
    CaseStore,
    CaseStoreError,
    DatabaseUnavailable,
    InvalidDecision,
    RunNotUsable,
)
from graphguard.config import CasesConfig
from graphguard.io import load_labels
from tests.casestore.casework import make_run, ring


@pytest.fixture
def store(db: str):
    with CaseStore.open(db) as opened:
        yield opened


def actions(store: CaseStore, case_id: str | None = None) -> list[str]:
    return [entry.action for entry in store.audit(case_id)]


def test_sync_opens_a_case_per_campaign_and_is_idempotent(store: CaseStore, tmp_path: Path):
    run = make_run(tmp_path / "day1", {"c-a": ring("a", 10), "c-b": ring("b", 5)})
    first = store.sync_run(run, actor="ana")
    assert (first.opened, first.requeued, first.already_synced) == (["c-a", "c-b"], [], False)
    cases = store.list_cases()
    assert [(c.id, c.status, c.size, c.growth) for c in cases] == [
        ("c-a", "open", 10, 0),
        ("c-b", "open", 5, 0),
    ]
    assert cases[0].first_seen_run == cases[0].last_seen_run == "day1"
    detail = store.get_case("c-a")
    assert detail.members == ring("a", 10)
    assert [r.run for r in detail.runs] == ["day1"]
    audit = store.audit()
    assert [(e.action, e.case_id, e.actor) for e in audit] == [
        ("open", "c-a", "ana"),
        ("open", "c-b", "ana"),
        ("sync", None, "ana"),
    ]
    again = store.sync_run(run, actor="ana")
    assert again.already_synced and again.opened == [] and again.run == "day1"
    assert len(store.audit()) == len(audit)
    assert store.get_case("c-a").runs == detail.runs


def test_sync_updates_known_cases(store: CaseStore, tmp_path: Path):
    store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 10)}))
    day2 = {"c-a": ring("a", 8, start=2) + ring("a", 4, start=100), "c-new": ring("n", 3)}
    summary = store.sync_run(
        make_run(tmp_path / "day2", day2, suspicion={"c-a": 0.5}, created_at="2")
    )
    assert (summary.opened, summary.updated) == (["c-new"], ["c-a"])
    case = store.get_case("c-a")
    assert (case.size, case.growth, case.suspicion) == (12, 4, 0.5)
    assert (case.first_seen_run, case.last_seen_run) == ("day1", "day2")
    assert case.members == sorted(day2["c-a"])  # a-000 and a-001 left
    assert [(r.run, r.size, r.n_new) for r in case.runs] == [("day1", 10, 0), ("day2", 12, 4)]
    assert store.list_cases(sort="growth")[0].id == "c-a"
    assert [c.id for c in store.list_cases(sort="size")] == ["c-a", "c-new"]


def decided_world(store: CaseStore, tmp_path: Path) -> None:
    store.sync_run(make_run(tmp_path / "day1", {"ring": ring("r", 20), "fans": ring("f", 10)}))
    store.decide("ring", "confirmed", label="bot_ring", actor="ana")
    store.decide("fans", "dismissed", actor="ana")


def test_a_dismissed_campaign_back_unchanged_is_not_requeued(store: CaseStore, tmp_path: Path):
    decided_world(store, tmp_path)
    summary = store.sync_run(
        make_run(tmp_path / "day2", {"ring": ring("r", 20), "fans": ring("f", 10)}, created_at="2")
    )
    assert summary.requeued == [] and summary.opened == []
    assert sorted(summary.kept_decided) == ["fans", "ring"]
    assert store.get_case("fans").status == "dismissed"
    assert "requeue" not in actions(store)


def test_shrinking_or_growing_below_the_threshold_is_not_growth(store: CaseStore, tmp_path: Path):
    decided_world(store, tmp_path)
    # fans: 10 decided, 2 new members < max(3, 10% of 10); ring: 5 left, none new
    day2 = {"ring": ring("r", 15), "fans": ring("f", 10) + ring("f", 2, start=50)}
    summary = store.sync_run(make_run(tmp_path / "day2", day2, created_at="2"))
    assert summary.requeued == []
    assert store.get_case("fans").growth == 2


def test_a_grown_dismissed_campaign_is_requeued_with_the_reason(store: CaseStore, tmp_path: Path):
    decided_world(store, tmp_path)
    # the same size, but 3 of its 10 members are new accounts: it grew
    day2 = {"ring": ring("r", 20), "fans": ring("f", 7) + ring("f", 3, start=50)}
    summary = store.sync_run(make_run(tmp_path / "day2", day2, created_at="2"))
    assert summary.requeued == ["fans"] and summary.to_review == ["fans"]
    fans = store.get_case("fans")
    assert (fans.status, fans.verdict) == ("open", "dismissed")
    assert fans.new_since_decision == ring("f", 3, start=50)
    requeue = [e for e in fans.audit if e.action == "requeue"]
    assert len(requeue) == 1
    assert requeue[0].detail["new_members"] == 3 and requeue[0].detail["decided_members"] == 10
    assert "grew: 3 members" in requeue[0].detail["reason"]
    # until decided again, the dismissal still labels its members benign; new ones are unlabelled
    labels = dict(store.labels().iter_rows())
    assert labels["f-000"] == "benign" and "f-050" not in labels
    # deciding again takes in the new members, and the next run does not re-queue it
    store.decide("fans", "dismissed", actor="ana")
    assert dict(store.labels().iter_rows())["f-050"] == "benign"
    again = store.sync_run(make_run(tmp_path / "day3", day2, created_at="3"))
    assert again.requeued == [] and "fans" in again.kept_decided


def test_the_share_threshold_scales_with_the_decided_snapshot(db: str, tmp_path: Path):
    config = CasesConfig(requeue_min_new=1, requeue_min_share=0.5)
    with CaseStore.open(db, config=config) as store:
        decided_world(store, tmp_path)
        day2 = {
            "ring": ring("r", 20) + ring("r", 9, start=100),  # 9 new < max(1, 50% of 20)
            "fans": ring("f", 10) + ring("f", 5, start=100),  # 5 new >= max(1, 50% of 10)
        }
        summary = store.sync_run(make_run(tmp_path / "day2", day2, created_at="2"))
        assert summary.requeued == ["fans"]
        assert summary.kept_decided == ["ring"]


def test_decide_confirms_with_exceptions_and_a_note(store: CaseStore, tmp_path: Path):
    store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 5)}))
    detail = store.decide(
        "c-a", "confirmed", note="same device farm", exceptions=["a-003", "a-003"], actor="ana"
    )
    assert (detail.status, detail.verdict, detail.label) == ("confirmed", "confirmed", "bot_ring")
    assert detail.exceptions == ["a-003"]
    assert detail.decided_members == ring("a", 5)
    assert [(n.author, n.text) for n in detail.notes] == [("ana", "same device farm")]
    decide = [e for e in detail.audit if e.action == "decide"][0]
    assert decide.actor == "ana"
    assert decide.detail["verdict"] == "confirmed" and decide.detail["label"] == "bot_ring"
    assert decide.detail["exceptions"] == ["a-003"] and decide.detail["previous_status"] == "open"
    assert decide.detail["note_id"] == detail.notes[0].id
    assert actions(store, "c-a") == ["open", "note", "decide"]


def test_decide_refuses_what_it_cannot_record(store: CaseStore, tmp_path: Path):
    store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 5)}, label="benign"))
    with pytest.raises(InvalidDecision, match="unknown verdict 'maybe'"):
        store.decide("c-a", "maybe")
    with pytest.raises(InvalidDecision, match="unknown label 'spam'"):
        store.decide("c-a", "confirmed", label="spam")
    with pytest.raises(InvalidDecision, match="name the label"):  # predicted benign: no default
        store.decide("c-a", "confirmed")
    with pytest.raises(InvalidDecision, match="takes no label"):
        store.decide("c-a", "dismissed", label="bot_ring")
    with pytest.raises(InvalidDecision, match="apply to a confirmed case"):
        store.decide("c-a", "dismissed", exceptions=["a-001"])
    with pytest.raises(InvalidDecision, match="'stranger' is not a member of case 'c-a'"):
        store.decide("c-a", "confirmed", label="bot_ring", exceptions=["stranger"])
    with pytest.raises(CaseNotFound, match="no case 'nope'"):
        store.decide("nope", "dismissed")
    with pytest.raises(InvalidDecision, match="actor"):
        store.decide("c-a", "dismissed", actor="  ")
    # nothing was recorded by the refused decisions
    assert store.get_case("c-a").status == "open"
    assert actions(store, "c-a") == ["open"]


def test_assign_status_and_notes_each_leave_an_audit_entry(store: CaseStore, tmp_path: Path):
    store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 5)}))
    assert store.assign("c-a", "bob", actor="ana").assignee == "bob"
    assert store.set_status("c-a", "in_review", actor="bob").status == "in_review"
    note = store.add_note("c-a", "looks like a farm", actor="bob")
    assert store.list_cases(status="in_review")[0].assignee == "bob"
    assert store.list_cases(status="open") == []
    assert store.counts() == {"open": 0, "in_review": 1, "confirmed": 0, "dismissed": 0}
    entries = store.audit("c-a")
    assert [(e.action, e.actor) for e in entries] == [
        ("open", "cli"),
        ("assign", "ana"),
        ("status", "bob"),
        ("note", "bob"),
    ]
    assert entries[1].detail == {"from": None, "to": "bob"}
    assert entries[2].detail == {"from": "open", "to": "in_review"}
    assert entries[3].detail["note_id"] == note.id
    assert store.assign("c-a", None, actor="ana").assignee is None
    assert store.audit(limit=1)[0].detail == {"from": "bob", "to": None}
    with pytest.raises(InvalidDecision, match="needs some text"):
        store.add_note("c-a", "   ")
    with pytest.raises(InvalidDecision, match="unknown status"):
        store.set_status("c-a", "closed")
    with pytest.raises(InvalidDecision, match="unknown sort"):
        store.list_cases(sort="name")
    with pytest.raises(CaseNotFound):
        store.audit("nope")


def test_labels_follow_the_latest_decision(store: CaseStore, tmp_path: Path):
    store.sync_run(
        make_run(tmp_path / "day1", {"ring": ring("r", 4), "fans": ring("f", 3)}, label="benign")
    )
    store.decide("ring", "confirmed", label="fake_engagement", exceptions=["r-000"])
    store.decide("fans", "dismissed")
    # the next day f-000 is in the ring: confirmed again, it is now fake engagement
    day2 = {"ring": ring("r", 4) + ["f-000"], "fans": ring("f", 3, start=1)}
    store.sync_run(make_run(tmp_path / "day2", day2, created_at="2"))
    store.decide("ring", "confirmed", label="fake_engagement")
    labels = store.labels()
    assert labels.columns == ["account_id", "label"]
    assert labels.rows() == [
        ("f-000", "fake_engagement"),
        ("f-001", "benign"),
        ("f-002", "benign"),
        ("r-000", "benign"),
        ("r-001", "fake_engagement"),
        ("r-002", "fake_engagement"),
        ("r-003", "fake_engagement"),
    ]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_labels_file_reads_as_the_contract_says(store: CaseStore, tmp_path: Path, suffix: str):
    with pytest.raises(CaseStoreError, match="no case has been decided"):
        store.write_labels(tmp_path / f"labels{suffix}")
    store.sync_run(make_run(tmp_path / "day1", {"ring": ring("r", 4), "fans": ring("f", 3)}))
    store.decide("ring", "confirmed", exceptions=["r-002"])
    store.decide("fans", "dismissed")
    path, counts = store.write_labels(tmp_path / f"labels{suffix}")
    assert counts == {"benign": 4, "bot_ring": 3}
    labels, stats = load_labels(path, known_accounts=pl.Series([*ring("r", 4), *ring("f", 3)]))
    assert labels.sort("account_id").rows() == store.labels().rows()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or "tmp" in p.name] == []
    with pytest.raises(CaseStoreError, match=r"\.parquet or \.csv"):
        store.write_labels(tmp_path / "labels.txt")


HOSTILE = [
    "'); DROP TABLE cases; --",
    'x" OR "1"="1',
    "[bold red]markup[/]",
    "\x1b[31mred\x1b[0m",
    "ünïcødé ‮evil",
    "%s %(x)s {0}",
]


def test_hostile_strings_are_stored_as_data(store: CaseStore, tmp_path: Path):
    campaign = "camp'; DELETE FROM audit_log; --"
    store.sync_run(make_run(tmp_path / "day1", {campaign: HOSTILE}))
    detail = store.decide(
        campaign,
        "confirmed",
        label="bot_ring",
        exceptions=[HOSTILE[0]],
        note=HOSTILE[1],
        actor=HOSTILE[2],
    )
    assert detail.id == campaign and detail.members == sorted(HOSTILE)
    assert detail.exceptions == [HOSTILE[0]]
    assert detail.notes[0].text == HOSTILE[1] and detail.notes[0].author == HOSTILE[2]
    store.assign(campaign, HOSTILE[3], actor=HOSTILE[4])
    assert store.get_case(campaign).assignee == HOSTILE[3]
    labels = dict(store.labels().iter_rows())
    assert labels[HOSTILE[0]] == "benign" and labels[HOSTILE[5]] == "bot_ring"
    assert [e.action for e in store.audit()] == ["open", "sync", "note", "decide", "assign"]
    with pytest.raises(CaseNotFound):
        store.get_case("' OR '1'='1")


def test_the_audit_log_is_append_only(store: CaseStore, tmp_path: Path):
    from sqlalchemy import delete, text, update

    from graphguard.casestore.schema import audit_log

    store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 3)}))
    before = store.audit()
    engine = store._engine
    for statement in (
        update(audit_log).values(actor="mallory"),
        delete(audit_log),
        text("update audit_log set actor = 'mallory'"),
        text('DELETE FROM "audit_log"'),
    ):
        with pytest.raises(AppendOnlyViolation), engine.begin() as conn:
            conn.execute(statement)
    assert store.audit() == before


def test_the_database_trigger_refuses_changes_from_other_clients(db: str, tmp_path: Path):
    with CaseStore.open(db) as store:
        store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 3)}))
        before = store.audit()
        dialect = store.dialect
    if dialect == "sqlite":
        import sqlite3

        conn = sqlite3.connect(db)
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
        conn.close()
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(db)
        params = {"dbname": url.database, "user": url.username, "host": url.host, **url.query}
        if url.port:
            params["port"] = url.port
        if url.password:
            params["password"] = url.password
        with psycopg.connect(**params, autocommit=True) as conn:
            for sql in (
                "UPDATE audit_log SET actor = 'x'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
            ):
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(sql)
    with CaseStore.open(db) as store:
        assert store.audit() == before


def test_a_run_without_campaign_ids_is_refused(store: CaseStore, tmp_path: Path):
    run = make_run(tmp_path / "old", {"c-a": ring("a", 3)})
    pl.read_parquet(run / "clusters.parquet").drop("campaign_id").write_parquet(
        run / "clusters.parquet"
    )
    with pytest.raises(RunNotUsable, match="missing column 'campaign_id'"):
        store.sync_run(run)
    with pytest.raises(RunNotUsable, match="no such run directory"):
        store.sync_run(tmp_path / "nowhere")
    assert store.list_cases() == [] and store.audit() == []


def test_unreachable_databases_are_named_without_their_password(tmp_path: Path):
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        CaseStore.open(tmp_path / "no" / "such" / "cases.db")
    with pytest.raises(DatabaseUnavailable, match="is a directory"):
        CaseStore.open(tmp_path)
    with pytest.raises(DatabaseUnavailable, match="unsupported database"):
        CaseStore.open("mysql://root:hunter2@localhost/x")
    pytest.importorskip("psycopg")
    with pytest.raises(DatabaseUnavailable) as caught:
        CaseStore.open("postgresql://ana:hunter2@127.0.0.1:1/cases?connect_timeout=2")
    assert "hunter2" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)


def test_threads_sharing_a_store_lose_no_change(store: CaseStore, tmp_path: Path):
    import threading

    ids = [f"c{i}" for i in range(6)]
    store.sync_run(make_run(tmp_path / "day1", {c: ring(c, 3) for c in ids}))
    failures: list[BaseException] = []

    def work(case_id: str) -> None:
        try:
            for k in range(4):
                store.add_note(case_id, f"note {k}", actor=case_id)
                store.list_cases()
            store.decide(case_id, "dismissed", actor=case_id)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert store.counts()["dismissed"] == len(ids)
    assert actions(store).count("note") == 4 * len(ids)
