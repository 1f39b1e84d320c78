"""The first schema: runs, cases, their members and runs, notes and the audit log.

Revision ID: 0001_cases
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_cases"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=True),
        sa.Column("synced_at", _TIME, nullable=False),
        sa.Column("n_campaigns", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_runs"),
        sa.UniqueConstraint("run_key", name="uq_runs_run_key"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.Text, nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("label", sa.String(32), nullable=True),
        sa.Column("predicted_label", sa.Text, nullable=True),
        sa.Column("campaign_status", sa.String(16), nullable=True),
        sa.Column("suspicion", sa.Float, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("growth", sa.Integer, nullable=False),
        sa.Column("first_seen_run", sa.Integer, nullable=False),
        sa.Column("last_seen_run", sa.Integer, nullable=False),
        sa.Column("decided_run", sa.Integer, nullable=True),
        sa.Column("decision_seq", sa.BigInteger, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.ForeignKeyConstraint(
            ["first_seen_run"], ["runs.seq"], name="fk_cases_first_seen_run_runs"
        ),
        sa.ForeignKeyConstraint(
            ["last_seen_run"], ["runs.seq"], name="fk_cases_last_seen_run_runs"
        ),
        sa.ForeignKeyConstraint(["decided_run"], ["runs.seq"], name="fk_cases_decided_run_runs"),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'confirmed', 'dismissed')", name="ck_cases_status"
        ),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('confirmed', 'dismissed')", name="ck_cases_verdict"
        ),
        sa.CheckConstraint(
            "label IS NULL OR label IN ('bot_ring', 'fake_engagement')", name="ck_cases_label"
        ),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_table(
        "case_members",
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("first_seen_run", sa.Integer, nullable=False),
        sa.Column("last_seen_run", sa.Integer, nullable=False),
        sa.Column("decided", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "account_id", name="pk_case_members"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_members_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["first_seen_run"], ["runs.seq"], name="fk_case_members_first_seen_run_runs"
        ),
        sa.ForeignKeyConstraint(
            ["last_seen_run"], ["runs.seq"], name="fk_case_members_last_seen_run_runs"
        ),
    )
    op.create_index("ix_case_members_account_id", "case_members", ["account_id"])
    op.create_table(
        "case_runs",
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("run_seq", sa.Integer, nullable=False),
        sa.Column("cluster_id", sa.BigInteger, nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("suspicion", sa.Float, nullable=False),
        sa.Column("campaign_status", sa.String(16), nullable=True),
        sa.Column("n_new", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "run_seq", name="pk_case_runs"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_runs_case_id_cases"),
        sa.ForeignKeyConstraint(["run_seq"], ["runs.seq"], name="fk_case_runs_run_seq_runs"),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_notes_case_id_cases"),
    )
    op.create_index("ix_notes_case_id", "notes", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])


def downgrade() -> None:
    for table in ("audit_log", "notes", "case_runs", "case_members", "cases", "runs"):
        op.drop_table(table)
