"""Per-event context shared by the projections, the community evidence and the features.

The same question must get the same answer everywhere: which events are engagement, which
device is a single-session fingerprint used by one account, which events share an IP in the same
clock hour. Each is one expression or step here; times are int64 microseconds (`index_events`).
Works on eager and lazy frames alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import polars as pl

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def hour_key() -> pl.Expr:
    """The event's clock hour (hours since the epoch): the unit of "the same hour"."""
    return pl.col("t") // HOUR_US


def is_engagement(engagement_types: Sequence[str]) -> pl.Expr:
    """Events that engage a target: an engagement type (``graph.engagement_types``) and a
    target to engage."""
    return pl.col("event_type").is_in(list(engagement_types)) & pl.col("target").is_not_null()


def engagements(events: Frame, engagement_types: Sequence[str]) -> Frame:
    """First engagement of each account with each target (a like plus a comment is one act):
    columns target, account, t."""
    return (
        events.filter(is_engagement(engagement_types))
        .group_by("target", "account")
        .agg(pl.col("t").min())
    )


def device_usage(events: Frame) -> Frame:
    """Per device: ``_dev_accounts`` (distinct accounts on it) and ``_dev_span_us`` (first to
    last use)."""
    return (
        events.filter(pl.col("device").is_not_null())
        .group_by("device")
        .agg(
            pl.col("account").n_unique().alias("_dev_accounts"),
            (pl.col("t").max() - pl.col("t").min()).alias("_dev_span_us"),
        )
    )


def device_usage_of_accounts(on_device: Frame) -> Frame:
    """`device_usage` from a table with one row per (device, account) and that account's
    first and last use of it (``t``, ``t_last``): the same rows, a group-by of far fewer."""
    return on_device.group_by("device").agg(
        pl.len().alias("_dev_accounts"),
        (pl.col("t_last").max() - pl.col("t").min()).alias("_dev_span_us"),
    )


def target_reach(engaged: Frame) -> Frame:
    """Per target: ``_target_accounts``, the distinct accounts that engaged it (``engaged``:
    rows of engagements, such as `engagements`)."""
    return engaged.group_by("target").agg(pl.col("account").n_unique().alias("_target_accounts"))


def single_use_device() -> pl.Expr:
    """A device seen within one hour by one account: a fresh fingerprint per session.
    Reads the columns of `device_usage`; an event without a device is not on one."""
    return ((pl.col("_dev_accounts") == 1) & (pl.col("_dev_span_us") <= HOUR_US)).fill_null(False)


def with_device_context(events: Frame) -> Frame:
    """Add ``_dev_accounts``, ``_dev_span_us`` and ``_single_use_device`` to every event."""
    return events.join(device_usage(events), on="device", how="left").with_columns(
        single_use_device().alias("_single_use_device")
    )


def with_ip_hour_context(events: Frame) -> Frame:
    """Add ``_ip_hour`` and ``_ip_hour_accounts``: accounts seen on the event's IP in the same
    clock hour."""
    ip_hours = (
        events.filter(pl.col("ip").is_not_null())
        .group_by("ip", hour_key().alias("_ip_hour"))
        .agg(pl.col("account").n_unique().alias("_ip_hour_accounts"))
    )
    return events.with_columns(hour_key().alias("_ip_hour")).join(
        ip_hours, on=["ip", "_ip_hour"], how="left"
    )


def has_hardware(events: pl.DataFrame | pl.LazyFrame) -> bool:
    """Whether any event has a device or an IP (a ratings, reviews or follows log has
    neither): what ``graph.dense_cap`` and ``scoring.dense_evidence`` "auto" ask."""
    query = events.lazy().select(
        (pl.col("device").is_not_null() | pl.col("ip").is_not_null()).any()
    )
    return bool(query.collect(engine="streaming").item())
