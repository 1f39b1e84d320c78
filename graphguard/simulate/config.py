"""The settings of a simulated world and the vocabulary it is written in.

`SimulationConfig` is the one thing a caller hands to `simulate`; the rest of this module names
the event types, campaign kinds and hard-negative kinds, with the integer codes the generators
use internally and the per-kind sizes of the planted campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

import numpy as np

from graphguard.config import (
    ConfigError,
    check_int_at_least,
    check_non_negative,
    check_positive,
    check_share,
)
from graphguard.schema import CAMPAIGN_LABEL, HARD_NEGATIVE_KINDS

#: Event types in the order of their internal integer codes.
EVENT_TYPES: tuple[str, ...] = (
    "signup",
    "login",
    "view",
    "like",
    "follow",
    "comment",
    "share",
    "post",
)
SIGNUP, LOGIN, VIEW, LIKE, FOLLOW, COMMENT, SHARE, POST = range(8)
#: Event types whose target is a content id (besides `post`, whose target is the new content).
CONTENT_EVENTS = np.array([VIEW, LIKE, COMMENT, SHARE], dtype=np.int8)

#: Campaign kinds in internal order (population code = index + 1; 0 is benign).
CAMPAIGN_KINDS: tuple[str, ...] = (
    "device_farm",
    "proxy_ring",
    "engagement_pod",
    "paid_boost",
    "tiny_ring",
)
FARM, PROXY, POD, BOOST, TINY = range(1, 6)
#: Campaigns per kind at n_accounts=20_000 and campaign_scale=1.
BASE_CAMPAIGNS = {
    "device_farm": 3,
    "proxy_ring": 3,
    "engagement_pod": 4,
    "paid_boost": 3,
    "tiny_ring": 6,
}
#: Account-count range per campaign of each kind (inclusive).
CAMPAIGN_SIZE = {
    "device_farm": (40, 200),
    "proxy_ring": (40, 150),
    "engagement_pod": (12, 40),
    "paid_boost": (80, 300),
    "tiny_ring": (5, 8),
}

#: `SimulationConfig.difficulty` values: how far campaign accounts differ on their own.
DIFFICULTIES: tuple[str, ...] = ("easy", "hard")

#: Hard-negative kinds (`graphguard.schema.HARD_NEGATIVE_KINDS`, shared with the truth table)
#: by internal code; -1 is "not a hard negative".
HN_CODE = {name: i for i, name in enumerate(HARD_NEGATIVE_KINDS)}


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a synthetic world. Same config (seed included) -> byte-identical frames."""

    n_accounts: int = 20_000  # benign population; campaign accounts (~5-7%) come on top
    days: int = 30
    start: str = "2026-01-01T00:00:00Z"
    events_per_account: float = 30.0  # mean organic events per benign account (heavy-tailed)
    seed: int = 0
    label_fraction: float = 0.4  # share of accounts that get a row in labels
    label_noise: float = 0.0  # share of labelled abusive accounts labelled 'benign'
    unlabeled_kinds: tuple[str, ...] = ()  # campaign kinds never present in labels
    campaign_scale: float = 1.0  # multiplies the number of campaigns
    hard_negative_scale: float = 1.0  # multiplies hard-negative population sizes
    # Benign accounts per independent block (0: one block however large); see `blocks`.
    block_accounts: int = 300_000
    # easy: campaigns also differ on their own (bot speed, shared hardware, fresh accounts);
    # hard: members' own activity is drawn from the benign distribution (`simulate.hard`)
    difficulty: str = "easy"

    def __post_init__(self) -> None:
        # Hydra/YAML hand over lists; keep the dataclass hashable and comparable.
        kinds = self.unlabeled_kinds
        if isinstance(kinds, str):
            kinds = (kinds,)
        object.__setattr__(self, "unlabeled_kinds", tuple(str(k) for k in kinds))
        unknown = [k for k in self.unlabeled_kinds if k not in CAMPAIGN_LABEL]
        if unknown:
            raise ConfigError(
                "simulate.unlabeled_kinds",
                f"names an unknown campaign kind {unknown[0]!r}; "
                f"expected some of {sorted(CAMPAIGN_LABEL)}",
            )
        check_int_at_least("simulate.n_accounts", self.n_accounts, 50)
        check_int_at_least("simulate.days", self.days, 3)
        check_positive("simulate.events_per_account", self.events_per_account)
        for name in ("label_fraction", "label_noise"):
            check_share(f"simulate.{name}", getattr(self, name))
        for name in ("campaign_scale", "hard_negative_scale"):
            check_non_negative(f"simulate.{name}", getattr(self, name))
        check_int_at_least("simulate.seed", self.seed, 0)
        check_int_at_least("simulate.block_accounts", self.block_accounts, 0)
        if 0 < self.block_accounts < 100:
            raise ConfigError(
                "simulate.block_accounts",
                f"must be 0 (one block) or at least 100, got {self.block_accounts!r}",
            )
        if self.difficulty not in DIFFICULTIES:
            raise ConfigError(
                "simulate.difficulty",
                f"must be one of {', '.join(DIFFICULTIES)}, got {self.difficulty!r}",
            )
        if not isinstance(self.start, str):
            raise ConfigError(
                "simulate.start", f"must be an ISO-8601 timestamp, got {self.start!r}"
            )
        parse_start(self.start)  # raises ValueError on a malformed timestamp

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> SimulationConfig:
        """Build from a plain mapping (e.g. a Hydra/OmegaConf node converted to a dict).

        Unknown keys raise ValueError naming the key; `unlabeled_kinds` may be a list; integral
        floats for integer fields (``2e4`` in YAML) are accepted.
        """
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in m.items():
            if key not in known:
                raise ValueError(
                    f"unknown simulation config key {key!r}; expected one of {sorted(known)}"
                )
            if key in ("n_accounts", "days", "seed", "block_accounts"):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{key} must be an integer, got {value!r}")
            elif key == "unlabeled_kinds":
                value = (value,) if isinstance(value, str) else tuple(value)
            elif key in ("start", "difficulty"):
                value = str(value)
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{key} must be a number, got {value!r}")
                value = float(value)
            kwargs[key] = value
        return cls(**kwargs)


def parse_start(start: str) -> datetime:
    """`start` as an aware UTC datetime; a timestamp without a zone is taken as UTC."""
    try:
        dt = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            "simulate.start", f"must be an ISO-8601 timestamp, got {start!r}"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)
