"""`CaseStore`: cases and decisions in SQLite (one file) or PostgreSQL, through SQLAlchemy Core.

Every state change is one transaction that also appends its audit entry. The audit log is
append-only three times over: the store has no code path that changes or deletes an entry, the
engine refuses any UPDATE, DELETE or TRUNCATE statement on it (`AppendOnlyViolation`), and a
trigger in the database refuses them from any other client.

Re-queueing: a decided case (confirmed or dismissed) seen again in a later run is re-opened when
it **grew**: at least ``max(requeue_min_new, ceil(requeue_min_share * D))`` of its members in
that run are outside the ``D`` members its verdict was taken on (`graphguard.config.CasesConfig`;
by default 3 members and 10%). Members that left do not count; an account that replaced one
does. A re-opened case keeps its previous verdict and label (and so its labels) until it is
decided again; that decision adds the then current members to the decided snapshot.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from graphguard.casestore import schema as s
from graphguard.casestore.models import (
    AppendOnlyViolation,
    AuditEntry,
    CaseDetail,
    CaseNotFound,
    CaseRun,
    CaseStoreError,
    CaseSummary,
    DatabaseUnavailable,
    InvalidDecision,
    Note,
    RunNotUsable,
    SyncSummary,
)
from graphguard.casestore.runs import CAMPAIGN_ID, read_campaigns
from graphguard.config import CasesConfig
from graphguard.errors import inert
from graphguard.outputs import write_parquet_atomic, write_text_atomic
from graphguard.schema import ACCOUNT, BENIGN, LABEL

SORTS: tuple[str, ...] = ("suspicion", "size", "growth", "status", "updated")
#: longest actor, assignee and note the store keeps
MAX_NAME = 200
MAX_NOTE = 20_000
#: ids per IN (...) list, well under every backend's bound-parameter limit
_CHUNK = 500
_AUDIT_WRITE = re.compile(
    r"^\s*(update|delete\s+from|truncate(\s+table)?|replace\s+into|insert\s+or\s+replace\s+into)"
    r"\s+(only\s+)?[\"`]?audit_log\b",
    re.IGNORECASE,
)
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time the store writes is UTC
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _shown(value: object) -> str:
    """A data value quoted for a message, inert (no control characters)."""
    text = inert(repr(value))
    return text if len(text) <= 80 else text[:79] + "…"


def database_url(db: str | Path) -> URL:
    """The SQLAlchemy URL of ``db``: a URL as given (``postgresql://`` is read with psycopg 3),
    anything else the path of a SQLite file.

    Raises:
        DatabaseUnavailable: not a URL of a supported backend, or a path whose folder is missing.
    """
    text = str(db)
    if "://" in text:
        try:
            url = make_url(text)
        except ArgumentError:
            raise DatabaseUnavailable(f"not a database URL: {_shown(text)}") from None
        backend = url.get_backend_name()
        if backend in ("postgresql", "postgres"):
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
        elif backend != "sqlite":
            raise DatabaseUnavailable(
                f"unsupported database {_shown(url.render_as_string(hide_password=True))}: "
                "use a SQLite file or a postgresql:// URL"
            )
        return url
    path = Path(text).expanduser()
    if path.is_dir():
        raise DatabaseUnavailable(f"{path}: is a directory; the case database is a file")
    if not path.parent.is_dir():
        raise DatabaseUnavailable(f"{path}: the folder {path.parent} does not exist")
    return URL.create("sqlite+pysqlite", database=str(path.resolve()))


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # the driver's own transaction handling off: SQLAlchemy's begin emits BEGIN IMMEDIATE,
        # so two writers queue on the lock instead of failing to upgrade a read lock
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _guard_audit(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _refuse(_conn, _cursor, statement, _params, _context, _executemany) -> None:
        if _AUDIT_WRITE.match(statement):
            raise AppendOnlyViolation(
                "the audit log is append-only: entries are never changed or deleted"
            )


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class CaseStore:
    """Cases (one per campaign), their members, decisions, notes and audit log in a database.

    Open with `CaseStore.open`; use as a context manager or call `close`. Safe to share between
    threads (each call takes a pooled connection and one transaction).
    """

    def __init__(self, engine: Engine, config: CasesConfig) -> None:
        self._engine = engine
        self.config = config

    # ----------------------------------------------------------------------------------------
    # Opening

    @classmethod
    def open(
        cls, db: str | Path, *, config: CasesConfig | None = None, upgrade: bool = True
    ) -> CaseStore:
        """Open the case database ``db`` (a SQLite file's path, created if absent, or a
        SQLAlchemy URL) and migrate its schema to the latest revision.

        Raises:
            DatabaseUnavailable: the database cannot be reached or opened, or was written by a
                newer graphguard; the message names its URL without the password.
        """
        url = database_url(db)
        try:
            engine = (
                _sqlite_engine(url)
                if url.get_backend_name() == "sqlite"
                else create_engine(url, pool_pre_ping=True)
            )
        except (NoSuchModuleError, ImportError) as error:
            raise DatabaseUnavailable(
                f"no driver for {url.render_as_string(hide_password=True)} ({error}); "
                "install graphguard[postgres]"
            ) from None
        _guard_audit(engine)
        store = cls(engine, config or CasesConfig())
        try:
            if upgrade:
                store._upgrade()
            else:
                with engine.connect():
                    pass
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def url(self) -> str:
        """The database's URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        return DatabaseUnavailable(
            f"case database {self.url}: {detail[0] if detail else type(error).__name__}"
        )

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One transaction; database failures become `DatabaseUnavailable`."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except CaseStoreError:
            raise
        except DBAPIError as error:
            raise self._unavailable(error) from error

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._tx() as conn:
            if self.dialect == "postgresql":
                # two processes opening a fresh database at once: the second waits, then finds
                # it at head
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261130413)")
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as error:
                raise DatabaseUnavailable(
                    f"case database {self.url}: {error}; it may have been written by a newer "
                    "graphguard"
                ) from None

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self._tx() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ----------------------------------------------------------------------------------------
    # Writing helpers

    @staticmethod
    def _actor(actor: str) -> str:
        if not isinstance(actor, str) or not actor.strip():
            raise InvalidDecision("an actor is needed for the audit log (who did it)")
        actor = actor.strip()
        if len(actor) > MAX_NAME:
            raise InvalidDecision(f"actor is longer than {MAX_NAME} characters")
        return actor

    @staticmethod
    def _append_audit(
        conn: Connection, actor: str, case_id: str | None, action: str, detail: dict[str, Any]
    ) -> int:
        result = conn.execute(
            insert(s.audit_log).values(
                at=_now(),
                actor=actor,
                case_id=case_id,
                action=action,
                detail=json.dumps(detail, sort_keys=True, default=str),
            )
        )
        return int(result.inserted_primary_key[0])

    @staticmethod
    def _case_row(conn: Connection, case_id: str, *, lock: bool = False) -> Any:
        query = select(s.cases).where(s.cases.c.id == case_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise CaseNotFound(case_id)
        return row

    # ----------------------------------------------------------------------------------------
    # Syncing a run

    def sync_run(self, run_dir: str | Path, actor: str = "cli") -> SyncSummary:
        """Open a case for each new campaign of the run, update the known ones (size, growth,
        suspicion, last run, members) and re-open decided ones that grew (see the module's
        docstring). Syncing the same run again changes nothing (``already_synced``).

        Raises:
            RunNotUsable: the run cannot be read or has no campaign ids.
        """
        actor = self._actor(actor)
        try:
            rc = read_campaigns(run_dir)
        except (FileNotFoundError, ValueError, OSError) as error:
            raise RunNotUsable(str(error)) from error
        now = _now()
        with self._tx() as conn:
            if self.dialect == "postgresql":  # one sync at a time
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261130414)")
            known_run = conn.execute(select(s.runs).where(s.runs.c.run_key == rc.key)).first()
            if known_run is not None:
                return SyncSummary(
                    run=known_run.name,
                    run_seq=known_run.seq,
                    campaigns=known_run.n_campaigns,
                    already_synced=True,
                )
            seq = int(
                conn.execute(
                    insert(s.runs).values(
                        run_key=rc.key,
                        name=rc.name,
                        path=str(rc.path.resolve()),
                        created_at=rc.created_at,
                        synced_at=now,
                        n_campaigns=rc.campaigns.height,
                    )
                ).inserted_primary_key[0]
            )
            summary = self._sync(conn, rc, seq, actor, now)
            self._append_audit(
                conn,
                actor,
                None,
                "sync",
                {
                    "run": rc.name,
                    "path": str(rc.path.resolve()),
                    "run_key": rc.key,
                    "campaigns": summary.campaigns,
                    "opened": len(summary.opened),
                    "updated": len(summary.updated),
                    "requeued": len(summary.requeued),
                    "kept_decided": len(summary.kept_decided),
                },
            )
        return summary

    def _sync(self, conn: Connection, rc: Any, seq: int, actor: str, now: datetime) -> SyncSummary:
        ids = rc.campaigns.get_column(CAMPAIGN_ID).to_list()
        known: dict[str, Any] = {}
        old_rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(ids):
            for row in conn.execute(select(s.cases).where(s.cases.c.id.in_(chunk))):
                known[row.id] = row
        known_ids = list(known)
        for chunk in _chunks(known_ids):
            old_rows += conn.execute(
                select(
                    s.case_members.c.case_id,
                    s.case_members.c.account_id,
                    s.case_members.c.last_seen_run,
                    s.case_members.c.decided,
                ).where(s.case_members.c.case_id.in_(chunk))
            ).all()
        old = pl.DataFrame(
            old_rows,
            schema={
                "case_id": pl.String,
                "account_id": pl.String,
                "last_seen_run": pl.Int64,
                "decided": pl.Boolean,
            },
            orient="row",
        )
        previous_last = pl.DataFrame(
            {
                "case_id": known_ids,
                "case_last": [int(known[c].last_seen_run) for c in known_ids],
            },
            schema={"case_id": pl.String, "case_last": pl.Int64},
        )
        current = rc.members.rename({CAMPAIGN_ID: "case_id", ACCOUNT: "account_id"})
        keys = ["case_id", "account_id"]
        previous_members = old.join(previous_last, on="case_id").filter(
            pl.col("last_seen_run") == pl.col("case_last")
        )
        decided = old.filter(pl.col("decided"))

        def count_by_case(frame: pl.DataFrame, name: str) -> dict[str, int]:
            counts = frame.group_by("case_id").len(name=name)
            return dict(zip(counts["case_id"].to_list(), counts[name].to_list(), strict=True))

        new_vs_previous = count_by_case(current.join(previous_members, on=keys, how="anti"), "n")
        new_vs_decided = count_by_case(current.join(decided, on=keys, how="anti"), "n")
        decided_size = count_by_case(decided, "n")

        fresh = current.join(old, on=keys, how="anti")
        continuing = current.join(old, on=keys, how="semi")

        summary = SyncSummary(run=rc.name, run_seq=seq, campaigns=len(ids))
        new_cases, case_runs = [], []
        for campaign in rc.campaigns.iter_rows(named=True):
            cid = campaign[CAMPAIGN_ID]
            fields = {
                "predicted_label": campaign["predicted_label"],
                "campaign_status": campaign["campaign_status"],
                "suspicion": float(campaign["suspicion"]),
                "size": int(campaign["size"]),
                "last_seen_run": seq,
                "updated_at": now,
            }
            n_new = new_vs_previous.get(cid, 0) if cid in known else 0
            case_runs.append(
                {
                    "case_id": cid,
                    "run_seq": seq,
                    "cluster_id": campaign["cluster_id"],
                    "size": fields["size"],
                    "suspicion": fields["suspicion"],
                    "campaign_status": fields["campaign_status"],
                    "n_new": n_new,
                }
            )
            if cid not in known:
                new_cases.append(
                    {
                        **fields,
                        "id": cid,
                        "status": "open",
                        "growth": 0,
                        "first_seen_run": seq,
                        "created_at": now,
                    }
                )
                summary.opened.append(cid)
                continue
            row = known[cid]
            values = {**fields, "growth": n_new}
            if row.status in s.VERDICTS:
                outside, base = new_vs_decided.get(cid, 0), decided_size.get(cid, 0)
                needed = max(
                    self.config.requeue_min_new, math.ceil(self.config.requeue_min_share * base)
                )
                if outside >= needed:
                    values["status"] = "open"
                    summary.requeued.append(cid)
                    self._append_audit(
                        conn,
                        actor,
                        cid,
                        "requeue",
                        {
                            "run": rc.name,
                            "verdict": row.verdict,
                            "new_members": outside,
                            "decided_members": base,
                            "needed": needed,
                            "reason": (
                                f"grew: {outside} members in run {rc.name} are not among the "
                                f"{base} it was {row.verdict} on (re-queued at {needed})"
                            ),
                        },
                    )
                else:
                    summary.kept_decided.append(cid)
            summary.updated.append(cid)
            conn.execute(update(s.cases).where(s.cases.c.id == cid).values(**values))
        if new_cases:
            conn.execute(insert(s.cases), new_cases)
            for opened in new_cases:
                self._append_audit(
                    conn,
                    actor,
                    opened["id"],
                    "open",
                    {
                        "run": rc.name,
                        "size": opened["size"],
                        "suspicion": opened["suspicion"],
                        "campaign_status": opened["campaign_status"],
                    },
                )
        if fresh.height:
            conn.execute(
                insert(s.case_members),
                fresh.with_columns(
                    first_seen_run=pl.lit(seq), last_seen_run=pl.lit(seq), decided=pl.lit(False)
                ).to_dicts(),
            )
        if continuing.height:
            conn.execute(
                update(s.case_members)
                .where(
                    and_(
                        s.case_members.c.case_id == bindparam("b_case"),
                        s.case_members.c.account_id == bindparam("b_account"),
                    )
                )
                .values(last_seen_run=seq),
                continuing.rename({"case_id": "b_case", "account_id": "b_account"}).to_dicts(),
            )
        if case_runs:
            conn.execute(insert(s.case_runs), case_runs)
        return summary

    # ----------------------------------------------------------------------------------------
    # Reading

    def _summary_query(self):
        first = s.runs.alias("first_run")
        last = s.runs.alias("last_run")
        return select(
            s.cases, first.c.name.label("first_name"), last.c.name.label("last_name")
        ).select_from(
            s.cases.join(first, s.cases.c.first_seen_run == first.c.seq).join(
                last, s.cases.c.last_seen_run == last.c.seq
            )
        )

    @staticmethod
    def _summary(row: Any) -> CaseSummary:
        return CaseSummary(
            id=row.id,
            status=row.status,
            assignee=row.assignee,
            verdict=row.verdict,
            label=row.label,
            predicted_label=row.predicted_label,
            suspicion=float(row.suspicion),
            size=int(row.size),
            growth=int(row.growth),
            campaign_status=row.campaign_status,
            first_seen_run=row.first_name,
            last_seen_run=row.last_name,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
        )

    def list_cases(
        self,
        status: str | Iterable[str] | None = None,
        sort: str = "suspicion",
        limit: int | None = None,
    ) -> list[CaseSummary]:
        """The queue: cases with ``status`` (one or several; None: all), sorted by ``sort``
        (suspicion, size, growth: largest first; status: open, in_review, confirmed, dismissed;
        updated: latest first), ties by suspicion then id."""
        if sort not in SORTS:
            raise InvalidDecision(f"unknown sort {_shown(sort)}; choose from {', '.join(SORTS)}")
        statuses = [status] if isinstance(status, str) else list(status or [])
        for value in statuses:
            if value not in s.STATUSES:
                raise InvalidDecision(
                    f"unknown status {_shown(value)}; choose from {', '.join(s.STATUSES)}"
                )
        if limit is not None and limit < 0:
            raise InvalidDecision(f"limit must be at least 0, got {limit}")
        c = s.cases.c
        order = {
            "suspicion": [c.suspicion.desc()],
            "size": [c.size.desc(), c.suspicion.desc()],
            "growth": [c.growth.desc(), c.suspicion.desc()],
            "status": [
                case({v: i for i, v in enumerate(s.STATUSES)}, value=c.status),
                c.suspicion.desc(),
            ],
            "updated": [c.updated_at.desc(), c.suspicion.desc()],
        }[sort]
        query = self._summary_query().order_by(*order, c.id)
        if statuses:
            query = query.where(c.status.in_(statuses))
        if limit is not None:
            query = query.limit(limit)
        with self._tx() as conn:
            return [self._summary(row) for row in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """How many cases are in each status."""
        with self._tx() as conn:
            rows = conn.execute(
                select(s.cases.c.status, func.count()).group_by(s.cases.c.status)
            ).all()
        found = dict(rows)
        return {status: int(found.get(status, 0)) for status in s.STATUSES}

    def get_case(self, case_id: str) -> CaseDetail:
        """Everything about one case. Raises `CaseNotFound`."""
        with self._tx() as conn:
            return self._detail(conn, case_id)

    def _detail(self, conn: Connection, case_id: str) -> CaseDetail:
        row = conn.execute(self._summary_query().where(s.cases.c.id == case_id)).first()
        if row is None:
            raise CaseNotFound(case_id)
        m = s.case_members.c
        members = conn.execute(
            select(m.account_id, m.last_seen_run, m.decided)
            .where(m.case_id == case_id)
            .order_by(m.account_id)
        ).all()
        exceptions = conn.execute(
            select(s.case_exceptions.c.account_id)
            .where(s.case_exceptions.c.case_id == case_id)
            .order_by(s.case_exceptions.c.account_id)
        ).scalars()
        notes = conn.execute(
            select(s.notes).where(s.notes.c.case_id == case_id).order_by(s.notes.c.id)
        ).all()
        seen = conn.execute(
            select(s.case_runs, s.runs.c.name, s.runs.c.synced_at)
            .join(s.runs, s.case_runs.c.run_seq == s.runs.c.seq)
            .where(s.case_runs.c.case_id == case_id)
            .order_by(s.case_runs.c.run_seq)
        ).all()
        return CaseDetail(
            summary=self._summary(row),
            members=[a for a, last, _ in members if last == row.last_seen_run],
            decided_members=[a for a, _, decided in members if decided],
            exceptions=list(exceptions),
            notes=[Note(n.id, _utc(n.at), n.author, n.text) for n in notes],
            runs=[
                CaseRun(
                    run_seq=r.run_seq,
                    run=r.name,
                    synced_at=_utc(r.synced_at),
                    cluster_id=r.cluster_id,
                    size=r.size,
                    suspicion=float(r.suspicion),
                    campaign_status=r.campaign_status,
                    n_new=r.n_new,
                )
                for r in seen
            ],
            audit=self._audit(conn, case_id, None),
        )

    def audit(self, case_id: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first: of one case, or all of them (None); ``limit``: only
        the latest that many."""
        with self._tx() as conn:
            if case_id is not None:
                self._case_row(conn, case_id)
            return self._audit(conn, case_id, limit)

    @staticmethod
    def _audit(conn: Connection, case_id: str | None, limit: int | None) -> list[AuditEntry]:
        a = s.audit_log.c
        query = select(s.audit_log).order_by(a.id.desc())
        if case_id is not None:
            query = query.where(a.case_id == case_id)
        if limit is not None:
            query = query.limit(max(limit, 0))
        rows = conn.execute(query).all()
        return [
            AuditEntry(r.id, _utc(r.at), r.actor, r.case_id, r.action, json.loads(r.detail))
            for r in reversed(rows)
        ]

    # ----------------------------------------------------------------------------------------
    # Decisions

    def decide(
        self,
        case_id: str,
        verdict: str,
        label: str | None = None,
        note: str | None = None,
        exceptions: Iterable[str] = (),
        actor: str = "cli",
    ) -> CaseDetail:
        """Take a verdict on a case: its current members become the decided snapshot.

        ``confirmed`` labels them with ``label`` (default: the case's predicted label when it is
        an abuse label), except the ``exceptions`` (members, labelled benign); ``dismissed``
        labels them all benign and takes no label or exceptions. ``note`` is added as a note.

        Raises:
            CaseNotFound, InvalidDecision (naming what is allowed).
        """
        actor = self._actor(actor)
        if verdict not in s.VERDICTS:
            raise InvalidDecision(
                f"unknown verdict {_shown(verdict)}; choose from {', '.join(s.VERDICTS)}"
            )
        if label is not None and label not in s.VERDICT_LABELS:
            raise InvalidDecision(
                f"unknown label {_shown(label)}; choose from {', '.join(s.VERDICT_LABELS)}"
            )
        excepted = list(dict.fromkeys(str(e) for e in exceptions))
        if verdict == "dismissed" and label is not None:
            raise InvalidDecision("a dismissed case takes no label (its members are benign)")
        if verdict == "dismissed" and excepted:
            raise InvalidDecision(
                "exceptions apply to a confirmed case (a dismissed one labels every member benign)"
            )
        note_text = self._note_text(note) if note is not None else None
        now = _now()
        with self._tx() as conn:
            row = self._case_row(conn, case_id, lock=True)
            if verdict == "confirmed" and label is None:
                if row.predicted_label not in s.VERDICT_LABELS:
                    raise InvalidDecision(
                        f"name the label of confirmed case {_shown(case_id)}: "
                        f"{' or '.join(s.VERDICT_LABELS)}"
                    )
                label = row.predicted_label
            m = s.case_members.c
            known = set()
            for chunk in _chunks(excepted):
                known |= set(
                    conn.execute(
                        select(m.account_id).where(m.case_id == case_id, m.account_id.in_(chunk))
                    ).scalars()
                )
            unknown = [e for e in excepted if e not in known]
            if unknown:
                raise InvalidDecision(
                    f"{_shown(unknown[0])} is not a member of case {_shown(case_id)}"
                    + (f" (nor are {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                )
            n_current = conn.execute(
                select(func.count())
                .select_from(s.case_members)
                .where(m.case_id == case_id, m.last_seen_run == row.last_seen_run)
            ).scalar_one()
            note_id = None
            if note_text is not None:
                note_id = self._insert_note(conn, case_id, actor, note_text, now)
            detail = {
                "verdict": verdict,
                "label": label,
                "previous_status": row.status,
                "previous_verdict": row.verdict,
                "members": int(n_current),
                "exceptions": excepted[:100],
                "n_exceptions": len(excepted),
                "note_id": note_id,
            }
            seq = self._append_audit(conn, actor, case_id, "decide", detail)
            conn.execute(
                update(s.cases)
                .where(s.cases.c.id == case_id)
                .values(
                    status=verdict,
                    verdict=verdict,
                    label=label if verdict == "confirmed" else None,
                    decided_run=row.last_seen_run,
                    decision_seq=seq,
                    updated_at=now,
                )
            )
            conn.execute(
                update(s.case_members)
                .where(m.case_id == case_id, m.last_seen_run == row.last_seen_run)
                .values(decided=True)
            )
            already = set(
                conn.execute(
                    select(s.case_exceptions.c.account_id).where(
                        s.case_exceptions.c.case_id == case_id
                    )
                ).scalars()
            )
            added = [e for e in excepted if e not in already]
            if added:
                conn.execute(
                    insert(s.case_exceptions),
                    [
                        {"case_id": case_id, "account_id": e, "actor": actor, "created_at": now}
                        for e in added
                    ],
                )
            return self._detail(conn, case_id)

    def set_status(self, case_id: str, status: str, actor: str = "cli") -> CaseDetail:
        """Move a case to ``status``. open and in_review keep its verdict (and labels);
        confirmed and dismissed are verdicts: `decide` with its defaults."""
        if status in s.VERDICTS:
            return self.decide(case_id, verdict=status, actor=actor)
        if status not in s.STATUSES:
            raise InvalidDecision(
                f"unknown status {_shown(status)}; choose from {', '.join(s.STATUSES)}"
            )
        return self._change(case_id, "status", status, action="status", actor=actor)

    def assign(self, case_id: str, assignee: str | None, actor: str = "cli") -> CaseDetail:
        """Give a case to ``assignee`` (None or blank: unassign)."""
        actor = self._actor(actor)
        name = (assignee or "").strip() or None
        if name is not None and len(name) > MAX_NAME:
            raise InvalidDecision(f"assignee is longer than {MAX_NAME} characters")
        return self._change(case_id, "assignee", name, action="assign", actor=actor)

    def _change(
        self, case_id: str, column: str, value: str | None, *, action: str, actor: str
    ) -> CaseDetail:
        """Set one column of a case, with its audit entry (``action``, from and to) in the
        same transaction; nothing is written when it already has that value."""
        actor = self._actor(actor)
        with self._tx() as conn:
            row = self._case_row(conn, case_id, lock=True)
            before = getattr(row, column)
            if before != value:
                self._append_audit(conn, actor, case_id, action, {"from": before, "to": value})
                conn.execute(
                    update(s.cases)
                    .where(s.cases.c.id == case_id)
                    .values({column: value, "updated_at": _now()})
                )
            return self._detail(conn, case_id)

    @staticmethod
    def _note_text(text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidDecision("a note needs some text")
        if len(text) > MAX_NOTE:
            raise InvalidDecision(f"a note is at most {MAX_NOTE:,} characters, got {len(text):,}")
        return text

    def _insert_note(
        self, conn: Connection, case_id: str, actor: str, text: str, now: datetime
    ) -> int:
        result = conn.execute(
            insert(s.notes).values(case_id=case_id, at=now, author=actor, text=text)
        )
        note_id = int(result.inserted_primary_key[0])
        self._append_audit(conn, actor, case_id, "note", {"note_id": note_id, "text": text[:500]})
        return note_id

    def add_note(self, case_id: str, text: str, actor: str = "cli") -> Note:
        """Add a note to a case."""
        actor = self._actor(actor)
        text = self._note_text(text)
        now = _now()
        with self._tx() as conn:
            self._case_row(conn, case_id)
            note_id = self._insert_note(conn, case_id, actor, text, now)
            conn.execute(update(s.cases).where(s.cases.c.id == case_id).values(updated_at=now))
        return Note(note_id, now, actor, text)

    # ----------------------------------------------------------------------------------------
    # Labels

    def labels(self) -> pl.DataFrame:
        """The decisions as a labels table (the contract's ``account_id``, ``label``): members
        of a confirmed verdict's snapshot get its label, its exceptions and the snapshot of a
        dismissed case get ``benign``. An account decided in several cases takes its latest
        decision. Sorted by account id."""
        m, c, x = s.case_members.c, s.cases.c, s.case_exceptions.c
        with self._tx() as conn:
            decided = conn.execute(
                select(m.account_id, c.verdict, c.label, c.decision_seq)
                .join(s.cases, m.case_id == c.id)
                .where(m.decided, c.verdict.is_not(None))
            ).all()
            excepted = conn.execute(
                select(x.account_id, c.decision_seq)
                .join(s.cases, x.case_id == c.id)
                .where(c.verdict == "confirmed")
            ).all()
        rows = pl.DataFrame(
            [
                (a, label if verdict == "confirmed" else BENIGN, int(seq), 0)
                for a, verdict, label, seq in decided
            ]
            + [(a, BENIGN, int(seq), 1) for a, seq in excepted],
            schema={ACCOUNT: pl.String, LABEL: pl.String, "seq": pl.Int64, "exception": pl.Int8},
            orient="row",
        )
        # latest decision first; within one decision an exception beats the snapshot
        return (
            rows.sort(["seq", "exception"], descending=True)
            .unique(subset=[ACCOUNT], keep="first")
            .select(ACCOUNT, LABEL)
            .sort(ACCOUNT)
        )

    def write_labels(self, path: str | Path) -> tuple[Path, dict[str, int]]:
        """Write `labels` to ``path`` (``.parquet`` or ``.csv``) atomically; returns the path
        and the count per label.

        Raises:
            CaseStoreError: no case has been decided yet, or the extension is neither.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise CaseStoreError(
                f"{path}: a labels file ends in .parquet or .csv (the formats train reads)"
            )
        frame = self.labels()
        if frame.is_empty():
            raise CaseStoreError("no case has been decided yet: there are no labels to write")
        if suffix == ".parquet":
            write_parquet_atomic(frame, path)
        else:
            write_text_atomic(frame.write_csv(), path)
        counts = frame.group_by(LABEL).len().sort(LABEL)
        return path, dict(zip(counts[LABEL].to_list(), counts["len"].to_list(), strict=True))


__all__ = ["SORTS", "CaseStore", "database_url"]
