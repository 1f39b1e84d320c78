"""The case store: campaigns as cases, investigators' decisions, and the labels they become.

A pure data layer: it reads run directories through `graphguard.rundir` (the campaign ids
`detect` wrote) and never computes detection results. Cases live in SQLite by default (one file,
WAL, foreign keys on) or PostgreSQL given a URL, through the same SQLAlchemy Core code; the
schema (`graphguard.casestore.schema`) is built and upgraded by the Alembic migrations shipped in
``migrations/``, which `CaseStore.open` runs to head.

    with CaseStore.open("cases.db") as store:
        store.sync_run("runs/day2", actor="ana")
        for case in store.list_cases(status="open", sort="growth"):
            ...
        store.decide(case_id, verdict="confirmed", label="bot_ring", exceptions=["u17"])
        store.write_labels("labels.parquet")    # what `graphguard train --labels` reads
"""

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
from graphguard.casestore.schema import STATUSES, VERDICT_LABELS, VERDICTS
from graphguard.casestore.store import SORTS, CaseStore, database_url

__all__ = [
    "SORTS",
    "STATUSES",
    "VERDICTS",
    "VERDICT_LABELS",
    "AppendOnlyViolation",
    "AuditEntry",
    "CaseDetail",
    "CaseNotFound",
    "CaseRun",
    "CaseStore",
    "CaseStoreError",
    "CaseSummary",
    "DatabaseUnavailable",
    "InvalidDecision",
    "Note",
    "RunNotUsable",
    "SyncSummary",
    "database_url",
]
