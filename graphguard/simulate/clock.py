"""Time inside a simulated world: the window, local hours, and draws at human hours.

Times are float seconds since the window start. Accounts live in time zones (`tz`, hours off
UTC), so "human hours" are drawn on each account's local day and shifted back to window time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from graphguard.simulate.config import SimulationConfig, parse_start

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0

#: Relative activity by local hour (quiet at night, peak in the evening).
HOUR_WEIGHTS = np.array(
    [
        0.30,
        0.20,
        0.12,
        0.08,
        0.08,
        0.12,
        0.30,
        0.60,
        0.80,
        0.85,
        0.90,
        0.95,
        1.00,
        0.95,
        0.90,
        0.90,
        0.95,
        1.00,
        1.10,
        1.25,
        1.35,
        1.30,
        1.00,
        0.60,
    ]
)
#: Office/school profile for campus users: most activity 8-18.
DAYTIME_WEIGHTS = np.where((np.arange(24) >= 8) & (np.arange(24) < 18), 2.5, 1.0) * HOUR_WEIGHTS


@dataclass(frozen=True)
class Clock:
    """The window of a world and where it sits in the UTC day and week."""

    span: float  # window length in seconds; events keep 0 <= t < span
    start_us: int  # window start, microseconds since the Unix epoch
    offset0: float  # seconds into the UTC day at the window start
    weekday0: int  # weekday of window day 0 (Mon=0)
    hour_cum: np.ndarray  # cumulative HOUR_WEIGHTS, normalised
    day_cum: np.ndarray  # cumulative DAYTIME_WEIGHTS, normalised

    @classmethod
    def from_config(cls, cfg: SimulationConfig) -> Clock:
        start = parse_start(cfg.start)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(
            span=cfg.days * DAY,
            start_us=int(round(start.timestamp() * 1_000_000)),
            offset0=(start - midnight).total_seconds(),
            weekday0=midnight.weekday(),
            hour_cum=np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum(),
            day_cum=np.cumsum(DAYTIME_WEIGHTS) / DAYTIME_WEIGHTS.sum(),
        )

    def sample_hours(
        self, rng: np.random.Generator, n: int, daytime: np.ndarray | None = None
    ) -> np.ndarray:
        """Local hour (float) from the diurnal profile (office profile where `daytime`)."""
        u = rng.random(n)
        h = np.searchsorted(self.hour_cum, u, side="right").astype(np.float64)
        if daytime is not None and daytime.any():
            h[daytime] = np.searchsorted(self.day_cum, u[daytime], side="right")
        return np.minimum(h, 23) + rng.random(n)

    def human_times(
        self, rng: np.random.Generator, lo: ArrayLike, hi: ArrayLike, tz: ArrayLike
    ) -> np.ndarray:
        """Times in [lo, hi) at diurnal local hours (rejection on the day grid, a few rounds).

        `lo`, `hi` and `tz` broadcast against each other; what six rounds leave unplaced keeps
        a uniform time in [lo, hi).
        """
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        n = max(lo.size, hi.size, np.asarray(tz).size)
        lo, hi = np.broadcast_to(lo, n).copy(), np.broadcast_to(hi, n).copy()
        hi = np.maximum(hi, lo + 1.0)
        tz = np.broadcast_to(np.asarray(tz, dtype=np.float64), n)
        out = lo + rng.random(n) * (hi - lo)
        todo = np.arange(n)
        for _ in range(6):
            if todo.size == 0:
                break
            t0 = lo[todo] + rng.random(todo.size) * (hi[todo] - lo[todo])
            day = np.floor((t0 + self.offset0 + tz[todo] * HOUR) / DAY)
            t = day * DAY + (self.sample_hours(rng, todo.size) - tz[todo]) * HOUR - self.offset0
            ok = (t >= lo[todo]) & (t < hi[todo])
            out[todo[ok]] = t[ok]
            todo = todo[~ok]
        return out

    def is_office_time(self, t: np.ndarray, tz: np.ndarray) -> np.ndarray:
        """Whether window times `t` fall on a local weekday between 08:00 and 18:00."""
        local = t + self.offset0 + tz * HOUR
        hour = np.mod(local / HOUR, 24.0)
        weekday = (self.weekday0 + np.floor(local / DAY).astype(np.int64)) % 7
        return (hour >= 8) & (hour < 18) & (weekday < 5)
