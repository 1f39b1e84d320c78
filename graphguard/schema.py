"""Canonical event and label columns, their dtypes, and the label vocabulary.

Everything downstream of `graphguard.io` sees only these names and types; real logs are mapped
onto them by the column mapping in `DataConfig`.
"""

from __future__ import annotations

import polars as pl

TIME = "event_time"
ACCOUNT = "account_id"
EVENT_TYPE = "event_type"
DEVICE = "device_id"
IP = "ip"
TARGET = "target_id"

#: Canonical event columns in order, with their dtypes after validation.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    TIME: pl.Datetime("us", "UTC"),
    ACCOUNT: pl.String(),
    EVENT_TYPE: pl.String(),
    DEVICE: pl.String(),
    IP: pl.String(),
    TARGET: pl.String(),
}
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA)
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = (TIME, ACCOUNT, EVENT_TYPE)
NULLABLE_EVENT_COLUMNS: tuple[str, ...] = (DEVICE, IP, TARGET)

LABEL = "label"
BENIGN = "benign"
BOT_RING = "bot_ring"
FAKE_ENGAGEMENT = "fake_engagement"
#: Class order used for score columns and model outputs.
LABELS: tuple[str, ...] = (BENIGN, BOT_RING, FAKE_ENGAGEMENT)
SCORE_COLUMNS: tuple[str, ...] = tuple(f"score_{name}" for name in LABELS)

#: Campaign kinds the simulator plants, and the label each kind carries.
CAMPAIGN_LABEL: dict[str, str] = {
    "device_farm": BOT_RING,
    "proxy_ring": BOT_RING,
    "tiny_ring": BOT_RING,
    "engagement_pod": FAKE_ENGAGEMENT,
    "paid_boost": FAKE_ENGAGEMENT,
}

#: Benign populations that naive rules flag; the simulator marks them in its truth table.
HARD_NEGATIVE_KINDS: tuple[str, ...] = (
    "cgnat",
    "campus_wifi",
    "family_device",
    "shared_kiosk",
    "app_reinstall",
    "signup_cohort",
    "viral_engager",
    "fan_community",
)

#: Truth table written by the simulator (and accepted by `graphguard evaluate`).
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT: pl.String(),
    LABEL: pl.String(),
    "campaign_id": pl.String(),
    "campaign_kind": pl.String(),
    "hard_negative": pl.String(),
}

#: What an account acts through or on: the entity columns of the indexed events, and the
#: ``kind`` values of the run's entity edges.
ENTITY_KINDS: tuple[str, ...] = ("device", "ip", "target")
#: The account-account relations (projections through a shared entity), in the order every
#: per-relation column, weight and model input follows.
RELATIONS: tuple[str, ...] = ("device", "ip", "sync", "dense")
#: relation name of the merged (homogeneous) account graph: a pair linked by any relation
ANY_RELATION = "any"
