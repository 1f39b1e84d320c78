"""The case store's tables (SQLAlchemy Core), as the latest migration leaves them.

A case is a campaign: its id is the run's ``campaign_id``, stable across daily runs. The tables:

* ``runs``: one row per synced run directory (``seq``: the order they were synced in;
  ``run_key``: a digest of its run.json and clusters.parquet, so syncing the same run twice is
  recognised and changes nothing);
* ``cases``: the queue. ``status`` (open, in_review, confirmed, dismissed) is where the case
  stands; ``verdict`` and ``label`` are its latest decision, kept when a grown case is re-opened
  so its decided members stay labelled until it is decided again; ``suspicion``, ``size``,
  ``growth`` (members new since the case's previous run), ``campaign_status`` and
  ``predicted_label`` are the latest run's; ``decision_seq`` orders decisions (the latest one wins
  when an account was decided in two cases);
* ``case_members``: every account ever seen in a case, with the first and last run it was seen in
  (the current members are those last seen in the case's last run) and ``decided``: whether it
  was in the member snapshot a verdict was taken on;
* ``case_runs``: a case's size, suspicion and campaign status in each run it was seen in;
* ``case_exceptions``: members a confirmed verdict does not cover (real users caught in a ring);
* ``notes``: free text by investigators;
* ``audit_log``: who did what when, append-only (refused in code by `CaseStore`, and by a trigger
  in SQLite and PostgreSQL).

The migrations in ``migrations/versions`` build these tables; ``tests/casestore`` checks that
migrating an empty database to head gives exactly this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

#: the statuses a case can be in; confirmed and dismissed are also the verdicts
STATUSES: tuple[str, ...] = ("open", "in_review", "confirmed", "dismissed")
VERDICTS: tuple[str, ...] = ("confirmed", "dismissed")
#: the labels a confirmed verdict gives its members (the contract's abuse labels)
VERDICT_LABELS: tuple[str, ...] = ("bot_ring", "fake_engagement")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_TIME = DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


runs = Table(
    "runs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_key", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", Text, nullable=True),
    Column("synced_at", _TIME, nullable=False),
    Column("n_campaigns", Integer, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Text, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("assignee", Text, nullable=True),
    Column("verdict", String(16), nullable=True),
    Column("label", String(32), nullable=True),
    Column("predicted_label", Text, nullable=True),
    Column("campaign_status", String(16), nullable=True),
    Column("suspicion", Float, nullable=False),
    Column("size", Integer, nullable=False),
    Column("growth", Integer, nullable=False),
    Column("first_seen_run", Integer, ForeignKey("runs.seq"), nullable=False),
    Column("last_seen_run", Integer, ForeignKey("runs.seq"), nullable=False),
    Column("decided_run", Integer, ForeignKey("runs.seq"), nullable=True),
    Column("decision_seq", BigInteger, nullable=True),
    Column("created_at", _TIME, nullable=False),
    Column("updated_at", _TIME, nullable=False),
    CheckConstraint(_in("status", STATUSES), name="status"),
    CheckConstraint(f"verdict IS NULL OR {_in('verdict', VERDICTS)}", name="verdict"),
    CheckConstraint(f"label IS NULL OR {_in('label', VERDICT_LABELS)}", name="label"),
)
Index("ix_cases_status", cases.c.status)

case_members = Table(
    "case_members",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id"), primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("first_seen_run", Integer, ForeignKey("runs.seq"), nullable=False),
    Column("last_seen_run", Integer, ForeignKey("runs.seq"), nullable=False),
    Column("decided", Boolean, nullable=False),
)
Index("ix_case_members_account_id", case_members.c.account_id)

case_runs = Table(
    "case_runs",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id"), primary_key=True),
    Column("run_seq", Integer, ForeignKey("runs.seq"), primary_key=True),
    Column("cluster_id", BigInteger, nullable=True),
    Column("size", Integer, nullable=False),
    Column("suspicion", Float, nullable=False),
    Column("campaign_status", String(16), nullable=True),
    Column("n_new", Integer, nullable=False),
)

case_exceptions = Table(
    "case_exceptions",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id"), primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("actor", Text, nullable=False),
    Column("created_at", _TIME, nullable=False),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Text, ForeignKey("cases.id"), nullable=False),
    Column("at", _TIME, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_notes_case_id", notes.c.case_id)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", _TIME, nullable=False),
    Column("actor", Text, nullable=False),
    Column("case_id", Text, nullable=True),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)
Index("ix_audit_log_case_id", audit_log.c.case_id)

AUDIT_TABLE = audit_log.name
