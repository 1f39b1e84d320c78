"""What the case store hands out: plain dataclasses, and its errors in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphguard.errors import GraphguardError


class CaseStoreError(GraphguardError):
    """Base of the case store's errors; the message is meant for the person at the keyboard."""


class CaseNotFound(CaseStoreError, KeyError):
    """No case has this id."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case {case_id!r} in the case database")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class InvalidDecision(CaseStoreError, ValueError):
    """A verdict, label, status, exception or note the store refuses (names what is allowed)."""


class DatabaseUnavailable(CaseStoreError):
    """The database cannot be opened or reached; names its URL without the password."""


class RunNotUsable(CaseStoreError, ValueError):
    """A run directory the store cannot sync (no campaign ids, unreadable files)."""


class AppendOnlyViolation(CaseStoreError):
    """Something tried to change or delete an audit entry."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what, when, to which case (None: the whole store)."""

    id: int
    at: datetime
    actor: str
    case_id: str | None
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    author: str
    text: str


@dataclass(frozen=True)
class CaseRun:
    """A case as one run saw it."""

    run_seq: int
    run: str
    synced_at: datetime
    cluster_id: int | None
    size: int
    suspicion: float
    campaign_status: str | None
    n_new: int


@dataclass(frozen=True)
class CaseSummary:
    """A case's row in the queue.

    ``growth``: members in its last run that were not in its run before (0 on first sighting);
    ``verdict`` / ``label``: its latest decision (kept while a grown case is re-opened);
    ``first_seen_run`` / ``last_seen_run``: names of the run directories.
    """

    id: str
    status: str
    assignee: str | None
    verdict: str | None
    label: str | None
    predicted_label: str | None
    suspicion: float
    size: int
    growth: int
    campaign_status: str | None
    first_seen_run: str
    last_seen_run: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    """A case with everything recorded about it. The summary's fields read through
    (``detail.status`` is ``detail.summary.status``).

    ``members``: its current members (those in its last run), sorted; ``decided_members``: the
    snapshot its verdict was taken on (empty before a decision); ``new_since_decision``: current
    members outside that snapshot.
    """

    summary: CaseSummary
    members: list[str]
    decided_members: list[str]
    exceptions: list[str]
    notes: list[Note]
    runs: list[CaseRun]
    audit: list[AuditEntry]

    def __getattr__(self, name: str) -> Any:
        # only called for names the dataclass lacks: the summary's fields
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.summary, name)

    @property
    def new_since_decision(self) -> list[str]:
        if not self.decided_members:
            return []
        decided = set(self.decided_members)
        return [m for m in self.members if m not in decided]


@dataclass(frozen=True)
class SyncSummary:
    """What `CaseStore.sync_run` did with one run.

    ``opened``: cases seen for the first time; ``updated``: known cases seen again (their size,
    growth and last run updated); ``requeued``: decided cases re-opened because they grew;
    ``kept_decided``: decided cases seen again that did not grow (left as decided);
    ``already_synced``: the run had been synced before, and nothing changed.
    """

    run: str
    run_seq: int
    campaigns: int
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    kept_decided: list[str] = field(default_factory=list)
    already_synced: bool = False

    @property
    def to_review(self) -> list[str]:
        """The run's cases an investigator has to open: new ones and re-opened ones."""
        return [*self.opened, *self.requeued]
