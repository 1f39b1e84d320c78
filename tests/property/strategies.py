"""Hypothesis strategies for small canonical event logs (`schema.EVENT_SCHEMA`).

A few accounts, devices, IPs and targets, so that entities are shared and the projections have
something to pair; event types with and without engagement; times over a few days, to the
microsecond; nulls in the nullable columns. Ids are taken from small pools that include
markup, quotes, separators, a backslash and non-ASCII letters (never leading or trailing
whitespace, which the reader strips by design).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
from hypothesis import strategies as st

from graphguard import schema

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
DAYS = 3

ACCOUNTS = ("a0", "a1", "a2", "a3", "a4", "a5", "<b>x", 'q"uote', "Zoë", "a,b", "x\\x00")
DEVICES = ("d0", "d1", "d2", "shared-kiosk", "dév 🙂")
IPS = ("10.0.0.1", "10.0.0.2", "203.0.113.7", "2001:db8::1")
TARGETS = ("p0", "p1", "p2", "p3", "post;1")
#: engagement types of the default `GraphConfig` first, then ones that are not
EVENT_TYPES = ("like", "comment", "share", "follow", "view", "login", "signup")


@st.composite
def event_rows(draw: st.DrawFn, max_rows: int = 40) -> list[tuple]:
    n_accounts = draw(st.integers(1, len(ACCOUNTS)))
    accounts = ACCOUNTS[:n_accounts]
    # Clustered in time sometimes (bursts pair in the time-windowed relations), spread others.
    span_s = draw(st.sampled_from([120, 3600, DAYS * 86400]))
    row = st.tuples(
        st.integers(0, span_s * 1_000_000).map(lambda us: T0 + timedelta(microseconds=us)),
        st.sampled_from(accounts),
        st.sampled_from(EVENT_TYPES),
        st.none() | st.sampled_from(DEVICES),
        st.none() | st.sampled_from(IPS),
        st.none() | st.sampled_from(TARGETS),
    )
    return draw(st.lists(row, min_size=1, max_size=max_rows))


def to_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=dict(schema.EVENT_SCHEMA) | {schema.TIME: pl.Datetime("us")}, orient="row"
    ).with_columns(pl.col(schema.TIME).dt.replace_time_zone("UTC"))


@st.composite
def event_frames(draw: st.DrawFn, max_rows: int = 40) -> pl.DataFrame:
    """A schema-valid event frame (exact dtypes of `schema.EVENT_SCHEMA`)."""
    return to_frame(draw(event_rows(max_rows)))


@st.composite
def frame_and_shuffle(draw: st.DrawFn, max_rows: int = 40) -> tuple[pl.DataFrame, pl.DataFrame]:
    """An event frame and the same rows in another order."""
    rows = draw(event_rows(max_rows))
    return to_frame(rows), to_frame(draw(st.permutations(rows)))
