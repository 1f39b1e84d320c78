"""A community evidence table for the calibration tests: one row per community with its size,
events and synchronized-engagement share (and, if given, shared-device share and the Leiden
community it was cut from); every other family's share zero."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.community.calibration import PARENT


def community_evidence(
    sync: np.ndarray,
    size: np.ndarray,
    *,
    events_per_member: int = 20,
    device: np.ndarray | None = None,
    parent: np.ndarray | None = None,
) -> pl.DataFrame:
    n = sync.size
    zero = np.zeros(n)
    frame = pl.DataFrame(
        {
            "cluster": np.arange(n, dtype=np.int64),
            "size": size.astype(np.int64),
            "n_events": (size * events_per_member).astype(np.uint32),
            "sync_engagement_share": sync,
            "lockstep_member_share": zero,
            "shared_device_event_share": zero if device is None else device,
            "shared_ip_event_share": zero,
            "target_exclusivity": zero,
            "creation_burst_share": zero,
            "single_use_device_event_share": zero,
        }
    )
    if parent is not None:
        frame = frame.with_columns(pl.Series(PARENT, parent.astype(np.int64)))
    return frame
