"""The case store's migrations: an empty database migrates to exactly the declared schema, and a
database left at an older revision, with cases in it, upgrades on open and keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from graphguard.casestore import CaseStore, database_url
from graphguard.casestore.schema import metadata
from graphguard.casestore.store import _MIGRATIONS
from tests.casestore.casework import make_run, ring


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(db: str, revision: str) -> None:
    engine = create_engine(database_url(db))
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_open_migrates_an_empty_database_to_the_declared_schema(db: str):
    with CaseStore.open(db) as store:
        assert store.revision() == head()
    engine = create_engine(database_url(db))
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert differences == []
    assert {"cases", "case_members", "case_exceptions", "audit_log", "alembic_version"} <= tables
    with CaseStore.open(db) as store:  # opening again changes nothing
        assert store.revision() == head()


def test_a_database_at_the_first_revision_upgrades_and_keeps_its_cases(db: str, tmp_path: Path):
    upgrade(db, "0001_cases")
    engine = create_engine(database_url(db))
    with engine.begin() as conn:
        assert "case_exceptions" not in inspect(conn).get_table_names()
        conn.execute(
            text(
                "INSERT INTO runs (run_key, name, path, synced_at, n_campaigns) "
                "VALUES ('k1', 'day0', '/runs/day0', '2026-11-30 00:00:00+00', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cases (id, status, suspicion, size, growth, first_seen_run, "
                "last_seen_run, created_at, updated_at) VALUES ('c-a', 'open', 0.9, 3, 0, 1, 1, "
                "'2026-11-30 00:00:00+00', '2026-11-30 00:00:00+00')"
            )
        )
        for account in ring("a", 3):
            conn.execute(
                text(
                    "INSERT INTO case_members (case_id, account_id, first_seen_run, "
                    "last_seen_run, decided) VALUES ('c-a', :a, 1, 1, false)"
                ),
                {"a": account},
            )
        # the older revision has no trigger: an audit entry can still be changed there
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, detail) "
                "VALUES ('2026-11-30 00:00:00+00', 'old', 'open', '{}')"
            )
        )
    engine.dispose()

    with CaseStore.open(db) as store:
        assert store.revision() == head()
        case = store.get_case("c-a")
        assert (case.status, case.members, case.first_seen_run) == ("open", ring("a", 3), "day0")
        detail = store.decide("c-a", "confirmed", label="bot_ring", exceptions=["a-001"])
        assert detail.exceptions == ["a-001"]
        summary = store.sync_run(make_run(tmp_path / "day1", {"c-a": ring("a", 3)}))
        assert summary.updated == ["c-a"] and summary.kept_decided == ["c-a"]
        assert [e.action for e in store.audit()] == ["open", "decide", "sync"]
    engine = create_engine(database_url(db))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    engine.dispose()


def test_a_database_from_a_newer_graphguard_is_refused(tmp_path: Path):
    db = str(tmp_path / "cases.db")
    CaseStore.open(db).close()
    engine = create_engine(database_url(db))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    from graphguard.casestore import DatabaseUnavailable

    with pytest.raises(DatabaseUnavailable, match="newer graphguard"):
        CaseStore.open(db)


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path: Path):
    from sqlalchemy.exc import IntegrityError

    with CaseStore.open(tmp_path / "cases.db") as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            conn.execute(
                text(
                    "INSERT INTO notes (case_id, at, author, text) "
                    "VALUES ('no-such-case', '2026-12-01', 'x', 'y')"
                )
            )
