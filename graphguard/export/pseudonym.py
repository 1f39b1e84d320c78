"""Keyed pseudonyms for case exports shared outside the team.

Every IP and device id (and, on request, every account id and target) is replaced by
``<type>_<16 hex digits of HMAC-SHA256(key, type + NUL + value)>``. The same key gives the same
pseudonym everywhere, so a case still reads (these thirty accounts used one device) and two
exports made with one key can be joined; without the key a pseudonym cannot be reversed or
re-computed from a guessed IP. The key itself is never written anywhere.

Targets are content items or accounts (a follow targets an account), so when account ids are
pseudonymised targets are too, and a target that is an account of the run gets that account's
pseudonym: "member A follows member B" still reads.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import polars as pl

from graphguard.rundir.cases import Case
from graphguard.schema import ACCOUNT

#: Environment variable that holds the key when --key is not given.
KEY_ENV = "GRAPHGUARD_PSEUDONYM_KEY"
#: Prefix per kind of identifier.
PREFIXES = {"account": "acct", "device": "dev", "ip": "ip", "target": "tgt"}
SCHEME = "HMAC-SHA256, 64-bit, prefixed by type"
_HEX_DIGITS = 16
#: Shorter keys are accepted with a warning from the CLI; HMAC keys should be long and random.
MIN_KEY_LENGTH = 16


def resolve_key(key: str | None) -> str:
    """The key given, else the one in $GRAPHGUARD_PSEUDONYM_KEY.

    Raises:
        ValueError: neither is set, or the key is empty.
    """
    key = key if key is not None else os.environ.get(KEY_ENV)
    if not key:
        raise ValueError(f"pseudonymising needs a key: give one or set {KEY_ENV}")
    return key


class Pseudonymizer:
    """Replace identifiers with keyed, stable, type-prefixed pseudonyms."""

    def __init__(self, key: str, *, accounts: bool = False) -> None:
        if not key:
            raise ValueError("the pseudonym key must not be empty")
        self._key = key.encode("utf-8")
        self.accounts = accounts

    def __repr__(self) -> str:  # never show the key, even in a traceback
        return f"Pseudonymizer(accounts={self.accounts})"

    @property
    def kinds(self) -> tuple[str, ...]:
        return ("device", "ip", "account", "target") if self.accounts else ("device", "ip")

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return f"{PREFIXES[kind]}_{digest[:_HEX_DIGITS]}"

    def _mapping(self, kind: str, values: pl.Series) -> pl.DataFrame:
        """(value, pseudonym) for the distinct values: the HMAC runs once per distinct id."""
        distinct = values.drop_nulls().unique().sort()
        return pl.DataFrame(
            {
                "_value": distinct,
                "_pseudonym": [self.pseudonym(kind, v) for v in distinct.to_list()],
            },
            schema={"_value": pl.String, "_pseudonym": pl.String},
        )

    def _replace(self, frame: pl.DataFrame, column: str, mapping: pl.DataFrame) -> pl.DataFrame:
        if frame.is_empty():
            return frame
        position = frame.columns.index(column)
        replaced = (
            frame.with_row_index("_row")
            .join(mapping, left_on=column, right_on="_value", how="left")
            .sort("_row")
            .with_columns(pl.col("_pseudonym").alias(column))
            .drop("_row", "_pseudonym")
        )
        order = frame.columns[:position] + [column] + frame.columns[position + 1 :]
        return replaced.select(order)

    def apply(self, case: Case, *, run_accounts: pl.Series | None = None) -> Case:
        """A copy of ``case`` with identifiers replaced.

        Args:
            case: the case to pseudonymise.
            run_accounts: every account id of the run; targets among them get the account's
                pseudonym (only used when accounts are pseudonymised).
        """
        entities = case.entity_edges
        mapped = []
        for kind in ("device", "ip"):
            rows = entities.filter(pl.col("kind") == kind)
            mapping = self._mapping(kind, rows.get_column("entity"))
            mapped.append(self._replace(rows, "entity", mapping))
        members, ties = case.members, case.account_edges
        targets = entities.filter(pl.col("kind") == "target")
        if self.accounts:
            known = pl.concat(
                [
                    members.get_column(ACCOUNT),
                    ties.get_column("src_id"),
                    ties.get_column("dst_id"),
                    entities.get_column(ACCOUNT),
                ]
            )
            account_map = self._mapping("account", known)
            target_values = targets.get_column("entity")
            is_account = (
                target_values.is_in(run_accounts.implode())
                if run_accounts is not None
                else pl.Series([False] * len(target_values))
            )
            target_map = pl.concat(
                [
                    self._mapping("account", target_values.filter(is_account)),
                    self._mapping("target", target_values.filter(~is_account)),
                ]
            )
            targets = self._replace(targets, "entity", target_map)
            members = self._replace(members, ACCOUNT, account_map)
            ties = self._replace(self._replace(ties, "src_id", account_map), "dst_id", account_map)
            mapped = [self._replace(m, ACCOUNT, account_map) for m in mapped]
            targets = self._replace(targets, ACCOUNT, account_map)
        entity_edges = pl.concat([*mapped, targets]).sort("kind", "entity", ACCOUNT)
        return case.with_frames(
            members=members,
            entity_edges=entity_edges,
            account_edges=ties,
            pseudonyms={"kinds": list(self.kinds), "scheme": SCHEME},
        )
