"""Seeded, scalable synthetic world with planted coordinated-abuse campaigns and hard negatives.

`simulate(SimulationConfig(...))` returns a `World`: an event log in the canonical columns of
`graphguard.schema`, a partial and optionally noisy label table, and a full truth table that also
says which campaign each abusive account belongs to and which benign accounts are *hard negatives*
(benign populations that naive rules would flag).

How the world is built
----------------------
Everything is generated as integer-coded numpy arrays (account, device, IP and content indices;
times in float seconds since the window start) and turned into strings only at the very end, so
10M events take a few seconds and well under 4 GiB. There are no Python loops over events or
accounts; loops run over campaigns, communities, hard-negative groups and the handful of
populations.

Benign world
    * Accounts live in households (1-4 accounts share a residential home IP, ~10% IPv6); most have
      one device, ~30% a second one. ~45% of users are partly mobile, and mobile sessions come from
      a carrier-grade NAT pool (a few hundred IPs for 20k users, grouped in the carriers' /24s) that
      thousands of accounts share. ~1.5% of sessions come from a pool of public hotspot IPs.
    * Activity is heavy-tailed (lognormal events per account), in sessions of a few events seconds
      to minutes apart (lognormal gaps, median 25 s), at diurnal hours (per-account time-zone
      shift), on a random subset of days. Sessions start with a `login` half of the time.
    * ~8% of accounts are created inside the window (they get a `signup` event and act only after
      it); all others are older and have no signup.
    * Interest communities (Zipf sizes) give organic structure: ~half of a user's engagement goes to
      posts by creators of their own community. ~6% of accounts are creators with Zipf popularity;
      posts carry `popularity * lognormal` weight. An engagement at time t picks a post whose age
      is lognormal (median 5 h; ~2% older than 3 days), weighted by post weight, among posts made
      before t. A 3-day pre-window backlog of posts exists (ids appear as targets, but their `post`
      events lie before the window, so their author is unknown to the log).
    * Follows go to accounts in proportion to creator popularity (again half within community).
    * 1% of sessions carry no device id and 0.2% of events no IP (web clients, logging gaps).

Hard negatives (truth `hard_negative`; each account at most one kind; sizes are fractions of
`n_accounts * hard_negative_scale`, groups drawn until the target is met, at least one group)
    cgnat          ~1.0%: 85-100% of sessions via CGNAT, 1.5x activity.
    campus_wifi    ~1.5%: groups of 50-300 sharing 1-3 IPs of one /24 on weekdays 08-18 local
                   (85% of those sessions), daytime-heavy; home IPs otherwise.
    family_device  ~1.0%: households of 2-5 sharing one device and one home IP.
    shared_kiosk   ~1.0%: kiosks (own device + IP) each used by 20-60 accounts, 1-3 short daytime
                   sessions each, on top of their normal activity.
    app_reinstall  ~1.0%: device id changes 4-14 times over the window (5-15 ids), frequent users
                   (3-6x the mean activity) so the ids actually show up.
    signup_cohort  ~1.5%: groups of 30-200 new accounts signing up within the same hour, each on
                   its own device and home IP, then ordinary behaviour.
    viral_engager  ~4.0%: 2-12 viral posts, each liked by hundreds to thousands of real users within
                   the hour after posting (delay ~ 3600 * U**1.7 s), some also share/comment.
    fan_community  ~1.5%: groups of 30-150 fans of one creator who posts 15-40 times; each fan
                   engages each post with prob 0.25-0.7 after 20 min + lognormal(median 5 h).

Campaigns (truth `campaign_id` like "device_farm-03", numbered from 01 per kind). Counts at
`n_accounts=20_000, campaign_scale=1`: device_farm 3, proxy_ring 3, engagement_pod 4,
paid_boost 3, tiny_ring 6, scaled by `n_accounts / 20000 * campaign_scale` (at least 1 each when
`campaign_scale > 0`). Every campaign account also gets camouflage: organic sessions at human
hours on popular content, sized so that 30-50% (per campaign) of its events are organic. The
camouflage uses the campaign's own infrastructure (devices/IPs).
    device_farm    40-200 accounts; 3-10 farm devices and 2-6 datacenter IPs in one or two /24s
                   (no device or IP is personal); signups in one 3-hour burst inside the first half
                   of the window; 15-40 farm "jobs": each account runs sessions of 3-8 actions,
                   2-15 s apart (Poisson(4-10) sessions per account), starting within 45 min of a
                   job start, at any hour; actions are like/share on 20-60 target posts (skewed to
                   a few) and follows of 5-20 creators. Farm jobs run 3 h+ after the burst.
    proxy_ring     40-150 accounts; a never-reused device id for every session (also camouflage and
                   signup), IPs drawn per session from real users' home IPs (60%) and the CGNAT pool
                   (40%); half the accounts are old, the others created at scattered times. 20-45
                   waves: each wave, 40-80% of the ring likes one target post within 4 minutes
                   (start U(0, 240 s)), some also share it or follow one of 3-8 target accounts.
    engagement_pod 12-40 aged accounts on personal devices and home/mobile IPs. Each member makes
                   1 + Poisson(days/15) pod posts at human hours; each other member (prob 0.5-0.9
                   per member) likes it after 20 s + lognormal(median 4 min, sigma 0.6) (95%
                   within ~12 min), 25% also comment, 5% share, seconds to a minute later. Pod
                   posts are never picked by organic engagement. Their camouflage is ordinary
                   community-driven activity (they may also post organically).
    paid_boost     80-300 accounts created 30-365 days before the window; 30% on a few shared
                   emulator devices, the rest personal; 50% on 5-20 datacenter IPs in 2-3 /24s,
                   the rest on personal home/mobile IPs. 15-40 orders: a benign creator (customer,
                   not in the pool) posts, and a random 30-60% of the pool likes within 15 s +
                   600 * U**1.2 s (<= ~10 min); 30% also follow the customer, 15% comment.
    tiny_ring      5-8 accounts sharing 1-2 devices, 1-2 IPs, or both; 8-25 waves in which 60-100%
                   of the ring likes one of 3-10 target posts within 5 minutes (15% also follow one
                   of 1-3 target accounts).

Labels: a seeded random `label_fraction` of accounts (then accounts of `unlabeled_kinds` are
dropped), with their true label except that a `label_noise` share of the labelled abusive
accounts say 'benign'.

Identifiers never encode populations: every id namespace is a keyed bijective scramble of a
seeded permutation, so sorting by account, device or content id is random with respect to
campaigns. IPv4 first octets come from the same distribution for residential, CGNAT, campus and
datacenter addresses, so an IP's text says nothing about its kind; only sharing and /24
concentration do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from graphguard.io import write_parquet_atomic
from graphguard.schema import (
    ACCOUNT,
    BENIGN,
    CAMPAIGN_LABEL,
    DEVICE,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPE,
    HARD_NEGATIVE_KINDS,
    IP,
    LABEL,
    TARGET,
    TIME,
    TRUTH_SCHEMA,
)

__all__ = [
    "CAMPAIGN_KINDS",
    "EVENT_TYPES",
    "SimulationConfig",
    "World",
    "simulate",
    "write_world",
]

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

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
_SIGNUP, _LOGIN, _VIEW, _LIKE, _FOLLOW, _COMMENT, _SHARE, _POST = range(8)
#: Event types whose target is a content id (besides `post`, whose target is the new content).
_CONTENT_EVENTS = np.array([_VIEW, _LIKE, _COMMENT, _SHARE], dtype=np.int8)

#: Campaign kinds in internal order (population code = index + 1; 0 is benign).
CAMPAIGN_KINDS: tuple[str, ...] = (
    "device_farm",
    "proxy_ring",
    "engagement_pod",
    "paid_boost",
    "tiny_ring",
)
_FARM, _PROXY, _POD, _BOOST, _TINY = range(1, 6)
#: Campaigns per kind at n_accounts=20_000 and campaign_scale=1.
_BASE_CAMPAIGNS = {
    "device_farm": 3,
    "proxy_ring": 3,
    "engagement_pod": 4,
    "paid_boost": 3,
    "tiny_ring": 6,
}
#: Account-count range per campaign of each kind (inclusive).
_CAMPAIGN_SIZE = {
    "device_farm": (40, 200),
    "proxy_ring": (40, 150),
    "engagement_pod": (12, 40),
    "paid_boost": (80, 300),
    "tiny_ring": (5, 8),
}

_HN = {name: i for i, name in enumerate(HARD_NEGATIVE_KINDS)}

_MIN = 60.0
_HOUR = 3600.0
_DAY = 86400.0

#: Relative activity by local hour (quiet at night, peak in the evening).
_HOUR_WEIGHTS = np.array(
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
_DAYTIME_WEIGHTS = np.where((np.arange(24) >= 8) & (np.arange(24) < 18), 2.5, 1.0) * _HOUR_WEIGHTS

#: Event-type mixes for organic sessions over (view, like, follow, comment, share, post).
_MIX_TYPES = np.array([_VIEW, _LIKE, _FOLLOW, _COMMENT, _SHARE, _POST], dtype=np.int8)
_MIX_REGULAR, _MIX_CREATOR, _MIX_CAMO, _MIX_KIOSK = range(4)
_MIXES = np.array(
    [
        [0.56, 0.22, 0.05, 0.07, 0.05, 0.006],  # regular user
        [0.45, 0.20, 0.04, 0.08, 0.05, 0.08],  # creator: posts often
        [0.50, 0.30, 0.07, 0.05, 0.08, 0.0],  # campaign camouflage: engagement, no posts
        [0.60, 0.25, 0.05, 0.05, 0.05, 0.0],  # kiosk session
    ]
)
_MIX_CUM = np.cumsum(_MIXES / _MIXES.sum(axis=1, keepdims=True), axis=1)

#: IPv4 first octets used for every kind of address (public unicast, avoiding reserved blocks).
_FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)], dtype=np.uint64
)
#: IPv6 first groups (global unicast allocations of a few registries).
_V6_FIRST = np.array(
    [0x2001, 0x2003, 0x2400, 0x2600, 0x2601, 0x2804, 0x2A00, 0x2A01, 0x2A02, 0x2C0F],
    dtype=np.uint64,
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


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

    def __post_init__(self) -> None:
        # Hydra/YAML hand over lists; keep the dataclass hashable and comparable.
        kinds = self.unlabeled_kinds
        if isinstance(kinds, str):
            kinds = (kinds,)
        object.__setattr__(self, "unlabeled_kinds", tuple(str(k) for k in kinds))
        unknown = [k for k in self.unlabeled_kinds if k not in CAMPAIGN_LABEL]
        if unknown:
            raise ValueError(
                f"unlabeled_kinds: unknown campaign kind {unknown[0]!r}; "
                f"expected some of {sorted(CAMPAIGN_LABEL)}"
            )
        if self.n_accounts < 50:
            raise ValueError(f"n_accounts must be >= 50, got {self.n_accounts}")
        if self.days < 3:
            raise ValueError(f"days must be >= 3, got {self.days}")
        if not self.events_per_account > 0:
            raise ValueError(f"events_per_account must be > 0, got {self.events_per_account}")
        for name in ("label_fraction", "label_noise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        for name in ("campaign_scale", "hard_negative_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        _parse_start(self.start)  # raises ValueError on a malformed timestamp

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
            if key in ("n_accounts", "days", "seed"):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{key} must be an integer, got {value!r}")
            elif key == "unlabeled_kinds":
                value = (value,) if isinstance(value, str) else tuple(value)
            elif key == "start":
                value = str(value)
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{key} must be a number, got {value!r}")
                value = float(value)
            kwargs[key] = value
        return cls(**kwargs)


@dataclass
class World:
    """A simulated world.

    events: canonical event columns (`schema.EVENT_SCHEMA`), sorted by event_time then account_id.
    labels: account_id, label -- partial (label_fraction) and optionally noisy.
    truth: `schema.TRUTH_SCHEMA`, one row per account that occurs in events, sorted by account_id;
        campaign_id / campaign_kind are null for benign accounts, hard_negative is null unless the
        account belongs to a hard-negative population.
    """

    events: pl.DataFrame
    labels: pl.DataFrame
    truth: pl.DataFrame


def simulate(config: SimulationConfig) -> World:
    """Generate a world from `config`. Deterministic: equal configs give equal frames."""
    return _Builder(config).build()


def write_world(world: World, out_dir: str | Path) -> dict[str, Path]:
    """Write events.parquet, labels.parquet and truth.parquet into `out_dir` (created if needed).

    Each file is written to a temporary name inside `out_dir` and then `os.replace()`d into place,
    so a reader never sees a half-written file under a final name. Returns {name: path}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in (("events", world.events), ("labels", world.labels), ("truth", world.truth)):
        paths[name] = write_parquet_atomic(frame, out / f"{name}.parquet")
    return paths


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _parse_start(start: str) -> datetime:
    try:
        dt = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start must be an ISO-8601 timestamp, got {start!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _scramble(idx: np.ndarray, bits: int, key: int) -> np.ndarray:
    """Keyed bijection on [0, 2**bits): xor-key, odd multiply and xorshift rounds.

    Each step is invertible modulo 2**bits, so distinct indices give distinct ids, and the
    mixing makes id order unrelated to index order.
    """
    mask = np.uint64((1 << bits) - 1)
    k = np.uint64(key & ((1 << bits) - 1))
    x = idx.astype(np.uint64) & mask
    for mult, shift in (
        (0x9E3779B97F4A7C15, bits // 2),
        (0xBF58476D1CE4E5B9, bits // 3 + 1),
        (0x94D049BB133111EB, bits // 2 + 1),
    ):
        x = (x ^ k) & mask
        x = (x * np.uint64(mult | 1)) & mask  # wraps mod 2**64; masking keeps it mod 2**bits
        x ^= x >> np.uint64(shift)
    return x


def _hex_chars(x: np.ndarray, nchars: int) -> np.ndarray:
    """(n, nchars) ASCII matrix of the low `nchars` hex digits of uint64 `x`, most significant
    first."""
    shifts = (4 * np.arange(nchars - 1, -1, -1)).astype(np.uint64)
    return _HEX[((x[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]


def _ascii_series(mat: np.ndarray) -> pl.Series:
    """Rows of an (n, k) uint8 ASCII matrix as a polars String series (no per-row Python)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return pl.Series(mat.view(f"S{mat.shape[1]}").ravel()).cast(pl.String)


def _id_strings(n: int, prefix: str, nchars: int, key: int, perm: np.ndarray) -> pl.Series:
    """`prefix` + `nchars` hex digits of the keyed scramble of `perm[i]`, for i < n."""
    vals = _scramble(perm[:n], 4 * nchars, key)
    mat = np.empty((n, len(prefix) + nchars), dtype=np.uint8)
    mat[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    mat[:, len(prefix) :] = _hex_chars(vals, nchars)
    return _ascii_series(mat)


def _segment_positions(lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For segments of `lens`, return (segment id per element, position in segment, first index
    of each segment)."""
    first = np.cumsum(lens) - lens
    seg = np.repeat(np.arange(lens.size), lens)
    pos = np.arange(seg.size) - first[seg]
    return seg, pos, first


# --------------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------------


class _Builder:
    """Holds the integer-coded world while it is being generated.

    Time is float seconds since the window start; accounts, devices, IPs and content are integer
    indices turned into id strings in `_assemble`.
    """

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        # One generator drawn from in a fixed order is what makes the output reproducible.
        self.rng = np.random.default_rng(np.random.SeedSequence([int(cfg.seed), 0x6A7A]))
        self.T = cfg.days * _DAY
        start = _parse_start(cfg.start)
        self.start_us = int(round(start.timestamp() * 1_000_000))
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.offset0 = (start - midnight).total_seconds()  # seconds into the UTC day at start
        self.weekday0 = midnight.weekday()  # weekday of window day 0 (Mon=0)
        self.hour_cum = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()
        self.day_cum = np.cumsum(_DAYTIME_WEIGHTS) / _DAYTIME_WEIGHTS.sum()

        self.n_dev = 0
        # IP registry: value (v4: 32-bit int; v6: 64 random bits rendered as groups),
        # v6 flag, and whether the address may be redrawn on collision (singletons).
        self._ip_vals: list[np.ndarray] = []
        self._ip_v6: list[np.ndarray] = []
        self._ip_single: list[np.ndarray] = []
        self.n_ip = 0
        self._used_prefixes: set[int] = set()
        # Content registry.
        self._c_t: list[np.ndarray] = []
        self._c_author: list[np.ndarray] = []
        self._c_w: list[np.ndarray] = []
        self._c_pick: list[np.ndarray] = []
        self.n_content = 0
        # Event chunks (t, acct, etype, dev, ip, tc, ta); targets -1 = none.
        self._chunks: list[tuple[np.ndarray, ...]] = []
        # Organic chunks whose view/like/comment/share/follow targets are resolved at the end.
        self._organic: list[tuple[tuple[np.ndarray, ...], np.ndarray]] = []

    # ---------------------------------------------------------------- registries

    def _new_devices(self, k: int) -> np.ndarray:
        out = np.arange(self.n_dev, self.n_dev + k, dtype=np.int64)
        self.n_dev += k
        return out

    def _add_ips(self, vals: np.ndarray, v6: np.ndarray, single: bool) -> np.ndarray:
        k = vals.size
        self._ip_vals.append(vals.astype(np.uint64))
        self._ip_v6.append(v6.astype(bool))
        self._ip_single.append(np.full(k, single))
        out = np.arange(self.n_ip, self.n_ip + k, dtype=np.int64)
        self.n_ip += k
        return out

    def _random_v4(self, k: int) -> np.ndarray:
        rng = self.rng
        o1 = _FIRST_OCTETS[rng.integers(0, _FIRST_OCTETS.size, k)]
        mid = rng.integers(0, 1 << 16, k).astype(np.uint64)
        host = rng.integers(1, 255, k).astype(np.uint64)
        return (o1 << np.uint64(24)) | (mid << np.uint64(8)) | host

    def _single_ips(self, k: int, v6_share: float = 0.0) -> np.ndarray:
        """k independent addresses (homes, hotspots, kiosks); collisions are redrawn later."""
        v6 = self.rng.random(k) < v6_share
        vals = self._random_v4(k)
        vals[v6] = self.rng.integers(
            0, np.iinfo(np.int64).max, int(v6.sum()), dtype=np.int64
        ).astype(np.uint64)
        return self._add_ips(vals, v6, single=True)

    def _subnet_ips(self, n_prefixes: int, n_ips: int) -> np.ndarray:
        """n_ips distinct IPv4 addresses spread over n_prefixes fresh /24s (carrier NAT pools,
        campus networks, datacenter ranges)."""
        rng = self.rng
        prefixes: list[int] = []
        while len(prefixes) < n_prefixes:
            o1 = int(_FIRST_OCTETS[rng.integers(0, _FIRST_OCTETS.size)])
            p = (o1 << 16) | int(rng.integers(0, 1 << 16))
            if p not in self._used_prefixes:
                self._used_prefixes.add(p)
                prefixes.append(p)
        per = np.full(n_prefixes, n_ips // n_prefixes)
        per[: n_ips % n_prefixes] += 1
        vals = []
        for p, k in zip(prefixes, per, strict=True):
            hosts = rng.permutation(254)[: min(int(k), 254)] + 1
            vals.append((np.uint64(p) << np.uint64(8)) | hosts.astype(np.uint64))
        v = np.concatenate(vals)
        return self._add_ips(v, np.zeros(v.size, bool), single=False)

    def _add_content(
        self, t: np.ndarray, author: np.ndarray, pickable: bool, weight_mult: float = 1.0
    ) -> np.ndarray:
        """Register posts; weight = author popularity * lognormal quality (Zipf-like overall)."""
        k = t.size
        w = self.pop[author] * self.rng.lognormal(0.0, 0.75, k) * weight_mult
        self._c_t.append(t.astype(np.float64))
        self._c_author.append(author.astype(np.int64))
        self._c_w.append(w)
        self._c_pick.append(np.full(k, pickable))
        out = np.arange(self.n_content, self.n_content + k, dtype=np.int64)
        self.n_content += k
        return out

    def _content_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.concatenate(self._c_t),
            np.concatenate(self._c_author),
            np.concatenate(self._c_w),
            np.concatenate(self._c_pick),
        )

    def _emit(self, t, acct, etype, dev, ip, tc=None, ta=None) -> None:
        n = t.size
        none = np.full(n, -1, dtype=np.int32)
        self._chunks.append(
            (
                t.astype(np.float64),
                acct.astype(np.int32),
                np.asarray(etype).astype(np.int8),
                dev.astype(np.int32),
                ip.astype(np.int32),
                none if tc is None else tc.astype(np.int32),
                none if ta is None else ta.astype(np.int32),
            )
        )

    def _emit_sessions(self, s_acct, s_t, ev_sess, ev_t, etype, tc=None, ta=None) -> None:
        """Emit events grouped in sessions; device and IP are chosen once per session."""
        dev, ip = self._assign_infra(s_acct, s_t)
        self._emit(ev_t, s_acct[ev_sess], etype, dev[ev_sess], ip[ev_sess], tc, ta)

    # ---------------------------------------------------------------- time helpers

    def _sample_hours(self, n: int, daytime: np.ndarray | None = None) -> np.ndarray:
        """Local hour (float) from the diurnal profile (office profile where `daytime`)."""
        u = self.rng.random(n)
        h = np.searchsorted(self.hour_cum, u, side="right").astype(np.float64)
        if daytime is not None and daytime.any():
            h[daytime] = np.searchsorted(self.day_cum, u[daytime], side="right")
        return np.minimum(h, 23) + self.rng.random(n)

    def _human_times(self, lo, hi, tz) -> np.ndarray:
        """Times in [lo, hi) at diurnal local hours (rejection on the day grid, a few rounds)."""
        rng = self.rng
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        n = max(lo.size, hi.size, np.asarray(tz).size)
        lo, hi = np.broadcast_to(lo, n).copy(), np.broadcast_to(hi, n).copy()
        hi = np.maximum(hi, lo + 1.0)
        tz = np.broadcast_to(np.asarray(tz, dtype=np.float64), n)
        out = lo + rng.random(n) * (hi - lo)  # fallback: uniform
        todo = np.arange(n)
        for _ in range(6):
            if todo.size == 0:
                break
            t0 = lo[todo] + rng.random(todo.size) * (hi[todo] - lo[todo])
            day = np.floor((t0 + self.offset0 + tz[todo] * _HOUR) / _DAY)
            t = day * _DAY + (self._sample_hours(todo.size) - tz[todo]) * _HOUR - self.offset0
            ok = (t >= lo[todo]) & (t < hi[todo])
            out[todo[ok]] = t[ok]
            todo = todo[~ok]
        return out

    def _is_office_time(self, t: np.ndarray, tz: np.ndarray) -> np.ndarray:
        local = t + self.offset0 + tz * _HOUR
        hour = np.mod(local / _HOUR, 24.0)
        weekday = (self.weekday0 + np.floor(local / _DAY).astype(np.int64)) % 7
        return (hour >= 8) & (hour < 18) & (weekday < 5)

    # ---------------------------------------------------------------- population plan

    def _plan(self) -> None:
        cfg, rng = self.cfg, self.rng
        N = cfg.n_accounts
        scale_c = N / 20_000 * cfg.campaign_scale
        camps = []  # (kind, size)
        for kind in CAMPAIGN_KINDS:
            if cfg.campaign_scale <= 0:
                continue
            k = max(1, int(round(_BASE_CAMPAIGNS[kind] * scale_c)))
            lo, hi = _CAMPAIGN_SIZE[kind]
            for size in rng.integers(lo, hi + 1, k):
                camps.append((kind, int(size)))
        self.camp_kind = [k for k, _ in camps]
        sizes = np.array([s for _, s in camps], dtype=np.int64)
        self.camp_start = N + np.cumsum(sizes) - sizes
        self.camp_size = sizes
        numbering: dict[str, int] = {}
        self.camp_id = []
        for kind in self.camp_kind:
            numbering[kind] = numbering.get(kind, 0) + 1
            self.camp_id.append(f"{kind}-{numbering[kind]:02d}")
        self.N = N
        self.A = N + int(sizes.sum())
        A = self.A
        self.camp = np.full(A, -1, dtype=np.int64)
        self.popcode = np.zeros(A, dtype=np.int8)
        for c, kind in enumerate(self.camp_kind):
            sl = slice(self.camp_start[c], self.camp_start[c] + sizes[c])
            self.camp[sl] = c
            self.popcode[sl] = CAMPAIGN_KINDS.index(kind) + 1
        self.hn = np.full(A, -1, dtype=np.int8)

    def _camp_accounts(self, c: int) -> np.ndarray:
        return np.arange(self.camp_start[c], self.camp_start[c] + self.camp_size[c])

    # ---------------------------------------------------------------- accounts

    def _accounts(self) -> None:
        """Benign attributes for everyone (campaign overrides come later)."""
        cfg, rng, A, N, T = self.cfg, self.rng, self.A, self.N, self.T
        # Creation: 8% of benign accounts sign up inside the window, the rest are older.
        new = rng.random(A) < 0.08
        self.created = np.where(new, rng.uniform(0, 0.95 * T, A), -rng.uniform(30, 2000, A) * _DAY)
        # Heavy-tailed activity with the requested mean.
        sigma = 1.1
        act = rng.lognormal(np.log(cfg.events_per_account) - sigma**2 / 2, sigma, A)
        self.activity = np.minimum(act, 100 * cfg.events_per_account)
        # Interest communities with Zipf-like sizes.
        self.n_comm = int(np.clip(round(np.sqrt(N) / 6), 6, 80))
        p = 1.0 / (np.arange(self.n_comm) + 3.0)
        self.community = rng.choice(self.n_comm, size=A, p=p / p.sum())
        # Creators (benign only) with Zipf popularity in random rank order.
        self.creator = np.zeros(A, dtype=bool)
        self.creator[:N] = rng.random(N) < 0.06
        cidx = np.flatnonzero(self.creator)
        self.pop = np.full(A, 0.002)
        self.pop[cidx] = 1.0 / (rng.permutation(cidx.size) + 1.0) ** 0.9
        self.activity[cidx] *= 2.0
        self.activity[:N] *= cfg.events_per_account / self.activity[:N].mean()
        self.tz = np.clip(rng.normal(0, 0.75, A), -3, 3)
        self.daytime = np.zeros(A, dtype=bool)
        # Mobile share: ~45% of users go through carrier NAT part of the time.
        self.mobile = np.where(
            rng.random(A) < 0.45, rng.uniform(0.15, 0.7, A), rng.uniform(0, 0.08, A)
        )
        self.n_carriers = 4
        carrier_p = np.array([0.4, 0.3, 0.2, 0.1])
        self.carrier = rng.choice(self.n_carriers, size=A, p=carrier_p)
        n_cg = int(np.clip(N / 100, 60, 1000))
        cg_sizes = np.maximum(np.round(n_cg * carrier_p).astype(int), 8)
        pools = [self._subnet_ips(max(1, int(np.ceil(s / 64))), int(s)) for s in cg_sizes]
        self.cg_start = np.array([p[0] for p in pools])
        self.cg_n = np.array([p.size for p in pools])
        self.cg_all = np.concatenate(pools)
        self.hotspots = self._single_ips(max(20, N // 100), v6_share=0.0)
        # Infrastructure modes (see _assign_infra).
        self.dev_mode = np.zeros(A, dtype=np.int8)
        self.ip_mode = np.zeros(A, dtype=np.int8)
        self.dev1 = self._new_devices(A)
        has2 = rng.random(A) < 0.3
        self.dev2 = np.full(A, -1, dtype=np.int64)
        self.dev2[has2] = self._new_devices(int(has2.sum()))
        self.dev_start = np.zeros(A, dtype=np.int64)
        self.dev_n = np.zeros(A, dtype=np.int64)
        self.ip_start = np.zeros(A, dtype=np.int64)
        self.ip_n = np.zeros(A, dtype=np.int64)
        self.reinstall_k = np.zeros(A, dtype=np.int64)
        self.reinstall_gamma = np.ones(A)
        self.campus_grp = np.full(A, -1, dtype=np.int64)
        self.home_ip = np.full(A, -1, dtype=np.int64)
        self._pool_dev: list[np.ndarray] = []
        self._pool_ip: list[np.ndarray] = []
        self._pool_dev_n = 0
        self._pool_ip_n = 0

    def _households(self, members: np.ndarray, sizes_p, lo: int, shared_device: bool) -> None:
        """Group `members` (random order) into households sharing a home IP (and one device)."""
        rng = self.rng
        n = members.size
        if n == 0:
            return
        sizes_p = np.asarray(sizes_p, dtype=float)
        draw = rng.choice(np.arange(lo, lo + sizes_p.size), size=n, p=sizes_p / sizes_p.sum())
        sizes = draw[: np.searchsorted(np.cumsum(draw), n) + 1]
        sizes[-1] -= sizes.sum() - n
        # A trimmed last household smaller than allowed joins the previous one when it fits.
        if sizes.size > 1 and sizes[-1] < lo and sizes[-2] + sizes[-1] < lo + sizes_p.size:
            sizes[-2] += sizes[-1]
            sizes = sizes[:-1]
        sizes = sizes[sizes > 0]
        hh = np.repeat(np.arange(sizes.size), sizes)
        ips = self._single_ips(sizes.size, v6_share=0.1)
        order = rng.permutation(members)
        self.home_ip[order] = ips[hh]
        if shared_device:
            devs = self._new_devices(sizes.size)
            self.dev1[order] = devs[hh]
            # Most family members have no second (personal) device.
            self.dev2[order[rng.random(n) < 0.8]] = -1

    def _add_pool(self, accts: np.ndarray, devs: np.ndarray | None, ips: np.ndarray | None) -> None:
        """Give `accts` a shared device pool and/or IP pool (uniform choice per session)."""
        if devs is not None:
            self._pool_dev.append(devs)
            self.dev_start[accts] = self._pool_dev_n
            self.dev_n[accts] = devs.size
            self.dev_mode[accts] = 1
            self._pool_dev_n += devs.size
        if ips is not None:
            self._pool_ip.append(ips)
            self.ip_start[accts] = self._pool_ip_n
            self.ip_n[accts] = ips.size
            self.ip_mode[accts] = 1
            self._pool_ip_n += ips.size

    # ---------------------------------------------------------------- hard negatives

    def _group_sizes(self, target: float, lo: int, hi: int) -> list[int]:
        """Group sizes in [lo, hi] until `target` accounts are covered (at least one group)."""
        sizes: list[int] = []
        remaining = target
        while not sizes or remaining > 0:
            s = int(self.rng.integers(lo, hi + 1))
            s = min(s, max(lo, int(round(remaining))))
            sizes.append(s)
            remaining -= s
        return sizes

    def _hard_negatives(self) -> None:
        cfg, rng, N, T = self.cfg, self.rng, self.N, self.T
        s = cfg.hard_negative_scale
        self.campus_groups: list[np.ndarray] = []
        self.kiosks: list[tuple[np.ndarray, int, int]] = []  # members, device, ip
        self.viral: list[np.ndarray] = []
        self.fans: list[np.ndarray] = []
        if s <= 0:
            self._households(np.arange(N), [0.55, 0.25, 0.13, 0.07], 1, False)
            return
        frac = {
            "cgnat": 0.01,
            "campus_wifi": 0.015,
            "family_device": 0.01,
            "shared_kiosk": 0.01,
            "app_reinstall": 0.01,
            "signup_cohort": 0.015,
            "viral_engager": 0.04,
            "fan_community": 0.015,
        }
        target = {k: v * N * s for k, v in frac.items()}
        plan: dict[str, list[int]] = {
            "cgnat": [max(1, int(round(target["cgnat"])))],
            "campus_wifi": self._group_sizes(target["campus_wifi"], 50, 300),
            "family_device": [max(2, int(round(target["family_device"])))],
            "shared_kiosk": self._group_sizes(target["shared_kiosk"], 20, 60),
            "app_reinstall": [max(1, int(round(target["app_reinstall"])))],
            "signup_cohort": self._group_sizes(target["signup_cohort"], 30, 200),
            "fan_community": self._group_sizes(target["fan_community"], 30, 150),
        }
        v_total = target["viral_engager"]
        n_items = int(np.clip(round(v_total / 400), 2, 12))
        plan["viral_engager"] = [
            max(20, int(round(x))) for x in rng.dirichlet(np.full(n_items, 8.0)) * v_total
        ]
        # Never give more than 60% of the benign population a hard-negative role.
        total = sum(sum(v) for v in plan.values())
        if total > 0.6 * N:
            f = 0.6 * N / total
            plan = {k: [max(2, int(x * f)) for x in v] for k, v in plan.items()}
        # Creators stay out of hard-negative groups: they are the fan/viral/customer hubs.
        pool = rng.permutation(np.flatnonzero(~self.creator[:N]))
        cursor = 0
        members_of: dict[str, list[np.ndarray]] = {}
        for kind in HARD_NEGATIVE_KINDS:
            groups = []
            for size in plan[kind]:
                g = pool[cursor : cursor + size]
                cursor += g.size
                groups.append(g)
            members_of[kind] = groups
            for g in groups:
                self.hn[g] = _HN[kind]
        hn_any = np.concatenate([g for v in members_of.values() for g in v])
        # All hard negatives except signup cohorts are established (old) accounts.
        self.created[hn_any] = -rng.uniform(30, 2000, hn_any.size) * _DAY

        # Households: family_device gets 2-5 sized households sharing a device; everyone else
        # benign gets ordinary 1-4 households.
        fam = np.concatenate(members_of["family_device"])
        self._households(fam, [0.35, 0.35, 0.2, 0.1], 2, True)
        rest = np.setdiff1d(np.arange(N), fam)
        self._households(rest, [0.55, 0.25, 0.13, 0.07], 1, False)

        cg = np.concatenate(members_of["cgnat"])
        self.mobile[cg] = rng.uniform(0.85, 1.0, cg.size)
        self.activity[cg] = np.maximum(self.activity[cg], cfg.events_per_account) * 1.5

        for gi, g in enumerate(members_of["campus_wifi"]):
            ips = self._subnet_ips(1, int(rng.integers(1, 4)))
            self.campus_groups.append(ips)
            self.campus_grp[g] = gi
            self.daytime[g] = True
            self.tz[g] = rng.normal(0, 0.3) + rng.normal(0, 0.1, g.size)  # one place, one zone

        for g in members_of["shared_kiosk"]:
            dev = int(self._new_devices(1)[0])
            ip = int(self._single_ips(1)[0])
            self.kiosks.append((g, dev, ip))

        ri = np.concatenate(members_of["app_reinstall"])
        k = rng.integers(4, 15, ri.size)  # 4-14 change points -> 5-15 ids in all
        # Each reinstaller owns a block of k+1 consecutive device indices (ids are scrambled).
        block = self._new_devices(int((k + 1).sum()))
        self.dev1[ri] = block[np.cumsum(k + 1) - (k + 1)]
        self.dev2[ri] = -1
        self.dev_mode[ri] = 3
        self.reinstall_k[ri] = k
        self.reinstall_gamma[ri] = rng.uniform(0.6, 1.6, ri.size)
        # Frequent users: enough sessions to actually pass through most of their device ids.
        self.activity[ri] = rng.uniform(3, 6, ri.size) * cfg.events_per_account

        for g in members_of["signup_cohort"]:
            t0 = self._human_times(min(_DAY, 0.2 * T), max(T - 5 * _DAY, 0.6 * T), 0.0)[0]
            self.created[g] = t0 + rng.uniform(0, _HOUR, g.size)

        self.viral = members_of["viral_engager"]
        self.fans = members_of["fan_community"]

    # ---------------------------------------------------------------- campaigns: setup

    def _campaign_setup(self) -> None:
        rng, T = self.rng, self.T
        self.camp_burst = np.zeros(len(self.camp_kind))
        self.camp_camo = rng.uniform(0.3, 0.5, len(self.camp_kind))
        for c, kind in enumerate(self.camp_kind):
            a = self._camp_accounts(c)
            m = a.size
            old = -rng.uniform(200, 2000, m) * _DAY
            if kind == "device_farm":
                self.camp_burst[c] = rng.uniform(0.03, 0.5) * T
                self.created[a] = self.camp_burst[c] + rng.uniform(0, 3 * _HOUR, m)
                n_pref = int(rng.integers(1, 3))
                self._add_pool(
                    a,
                    self._new_devices(int(rng.integers(3, 11))),
                    self._subnet_ips(n_pref, int(rng.integers(max(2, n_pref), 7))),
                )
                self.tz[a] = 0.0
            elif kind == "proxy_ring":
                new = rng.random(m) < 0.5
                self.created[a] = np.where(new, rng.uniform(0, 0.6 * T, m), old)
                self.dev_mode[a] = 2
                self.ip_mode[a] = 2
            elif kind == "engagement_pod":
                self.created[a] = old
                self._households(a, [1.0], 1, False)
            elif kind == "paid_boost":
                self.created[a] = -rng.uniform(30, 365, m) * _DAY
                self._households(a, [1.0], 1, False)
                self.mobile[a] = rng.uniform(0, 0.3, m)
                emu = a[rng.random(m) < 0.3]
                if emu.size:
                    self._add_pool(emu, self._new_devices(max(2, emu.size // 8)), None)
                dc = a[rng.random(m) < 0.5]
                if dc.size:
                    n_pref = int(rng.integers(2, 4))
                    self._add_pool(dc, None, self._subnet_ips(n_pref, int(rng.integers(5, 21))))
            elif kind == "tiny_ring":
                new = rng.random(m) < 0.5
                self.created[a] = np.where(new, rng.uniform(0, 0.7 * T, m), old)
                self._households(a, [1.0], 1, False)
                variant = int(rng.integers(0, 3))  # 0: device, 1: IP, 2: both shared
                devs = self._new_devices(int(rng.integers(1, 3))) if variant != 1 else None
                ips = self._single_ips(int(rng.integers(1, 3))) if variant != 0 else None
                self._add_pool(a, devs, ips)
            # Campaign accounts are not popular creators.
            self.pop[a] = 0.002
        self.pool_dev = (
            np.concatenate(self._pool_dev) if self._pool_dev else np.zeros(0, dtype=np.int64)
        )
        self.pool_ip = (
            np.concatenate(self._pool_ip) if self._pool_ip else np.zeros(0, dtype=np.int64)
        )
        # Residential IPs of real users: the pool proxy rings rent from.
        self.resid_ips = np.unique(self.home_ip[: self.N])

    # ---------------------------------------------------------------- infrastructure per session

    def _assign_infra(self, acct: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device and IP for sessions of `acct` starting at `t` (vectorised over sessions).

        dev_mode 0: personal device (second device 35% of sessions), 1: uniform from the
        account's device pool, 2: a never-seen device id every session, 3: app reinstaller
        (device index advances with warped time). ip_mode 0: home IP, CGNAT for mobile sessions,
        1.5% hotspots, campus IPs at office hours for campus groups; 1: uniform from the
        account's IP pool; 2: rented residential (real users' home IPs, 60%) or CGNAT (40%).
        """
        rng = self.rng
        n = acct.size
        u = rng.random((4, n))
        dmode = self.dev_mode[acct]
        dev = np.where((self.dev2[acct] >= 0) & (u[0] < 0.35), self.dev2[acct], self.dev1[acct])
        m = dmode == 1
        if m.any():
            a = acct[m]
            dev[m] = self.pool_dev[self.dev_start[a] + (u[0, m] * self.dev_n[a]).astype(np.int64)]
        m = dmode == 2
        if m.any():
            dev[m] = self._new_devices(int(m.sum()))
        m = dmode == 3
        if m.any():
            a = acct[m]
            x = np.clip(t[m] / self.T, 0.0, 1.0) ** self.reinstall_gamma[a]
            seg = np.minimum((x * (self.reinstall_k[a] + 1)).astype(np.int64), self.reinstall_k[a])
            dev[m] = self.dev1[a] + seg
        dev[u[3] < 0.01] = -1  # web sessions without a device fingerprint

        imode = self.ip_mode[acct]
        mob = self.mobile[acct]
        car = self.carrier[acct]
        cg_pick = self.cg_all[self.cg_start[car] + (u[2] * self.cg_n[car]).astype(np.int64)]
        hot = self.hotspots[(u[2] * self.hotspots.size).astype(np.int64)]
        ip = np.where(u[1] < mob, cg_pick, np.where(u[1] < mob + 0.015, hot, self.home_ip[acct]))
        cg = self.campus_grp[acct]
        m = (cg >= 0) & (imode == 0)
        if m.any():
            idx = np.flatnonzero(m)
            office = self._is_office_time(t[idx], self.tz[acct[idx]]) & (u[1, idx] < 0.85)
            idx = idx[office]
            for gi in np.unique(cg[idx]):
                sub = idx[cg[idx] == gi]
                ips = self.campus_groups[gi]
                ip[sub] = ips[(u[2, sub] * ips.size).astype(np.int64)]
        m = imode == 1
        if m.any():
            a = acct[m]
            ip[m] = self.pool_ip[self.ip_start[a] + (u[2, m] * self.ip_n[a]).astype(np.int64)]
        m = imode == 2
        if m.any():
            k = int(m.sum())
            res = self.resid_ips[rng.integers(0, self.resid_ips.size, k)]
            cgr = self.cg_all[rng.integers(0, self.cg_all.size, k)]
            ip[m] = np.where(u[1, m] < 0.6, res, cgr)
        return dev, ip

    # ---------------------------------------------------------------- organic sessions

    def _sessions(
        self,
        accts: np.ndarray,
        mean_events: np.ndarray,
        mix: np.ndarray,
        pref: float,
        session_len: float = 4.0,
    ) -> None:
        """Organic sessions for `accts`: diurnal, on a random subset of days, after creation.

        Posts are registered as content immediately; other targets are resolved later
        (`_resolve_targets`) once all content exists.
        """
        rng, days, T = self.rng, self.cfg.days, self.T
        n_acc = accts.size
        if n_acc == 0:
            return
        n_sess = np.maximum(rng.poisson(mean_events / session_len), 1)
        n_active = np.clip(np.rint(n_sess * rng.uniform(0.35, 0.9, n_acc)), 1, days).astype(
            np.int64
        )
        owner = np.repeat(np.arange(n_acc), n_sess)  # sorted by construction
        k = (rng.random(owner.size) * n_active[owner]).astype(np.int64)
        day = np.empty(owner.size, dtype=np.int64)
        # k-th day of a per-account random day order (chunks keep the key matrix small).
        chunk = max(1, 4_000_000 // days)
        for lo in range(0, n_acc, chunk):
            hi = min(n_acc, lo + chunk)
            order = np.argsort(rng.random((hi - lo, days), dtype=np.float32), axis=1)
            s0, s1 = np.searchsorted(owner, [lo, hi])
            day[s0:s1] = order[owner[s0:s1] - lo, k[s0:s1]]
        a = accts[owner]
        created = self.created[a]
        new = created >= 0
        cday = np.floor(np.maximum(created, 0) / _DAY)
        day = np.where(new, cday + np.floor(day * (days - cday) / days), day)
        hours = self._sample_hours(owner.size, self.daytime[a])
        s_t = day * _DAY + (hours - self.tz[a]) * _HOUR - self.offset0
        early = s_t < created
        s_t[early] = created[early] + rng.uniform(20, 900, int(early.sum()))
        # Time-zone shifts can push a session over a window edge: move it a day inwards.
        s_t = np.where(s_t < 0, s_t + _DAY, np.where(s_t >= T, s_t - _DAY, s_t))
        s_t = np.maximum(s_t, created)

        lens = rng.geometric(1.0 / session_len, owner.size)
        ev_sess, pos, first = _segment_positions(lens)
        gaps = rng.lognormal(np.log(25.0), 1.0, ev_sess.size)
        gaps[first] = 0.0
        cs = np.cumsum(gaps)
        ev_t = s_t[ev_sess] + (cs - cs[first][ev_sess])
        etype = self._draw_types(mix[owner][ev_sess])
        login = (pos == 0) & (rng.random(ev_sess.size) < 0.5)
        etype[login] = _LOGIN
        ev_acct = a[ev_sess]
        tc = np.full(ev_sess.size, -1, dtype=np.int64)
        posts = np.flatnonzero((etype == _POST) & (ev_t < T))
        tc[posts] = self._add_content(ev_t[posts], ev_acct[posts], pickable=True)
        dev, ip = self._assign_infra(a, s_t)
        chunk_arrays = (ev_t, ev_acct, etype, dev[ev_sess], ip[ev_sess], tc)
        self._organic.append((chunk_arrays, np.full(ev_sess.size, pref)))

    def _draw_types(self, mix_ev: np.ndarray) -> np.ndarray:
        u = self.rng.random(mix_ev.size)
        out = np.empty(mix_ev.size, dtype=np.int8)
        for m in range(_MIX_CUM.shape[0]):
            idx = np.flatnonzero(mix_ev == m)
            if idx.size:
                j = np.minimum(np.searchsorted(_MIX_CUM[m], u[idx], side="right"), 5)
                out[idx] = _MIX_TYPES[j]
        return out

    # ---------------------------------------------------------------- content & target picking

    def _backlog(self) -> None:
        """Posts from the 3 days before the window, so early engagement has something to hit."""
        t, author, _, _ = self._content_arrays()
        n = max(50, int(t.size * 3 / self.cfg.days))
        if t.size:
            auth = author[self.rng.integers(0, t.size, n)]
        else:
            cr = np.flatnonzero(self.creator)
            auth = cr[self.rng.integers(0, max(cr.size, 1), n)] if cr.size else np.zeros(n, int)
        self._add_content(-self.rng.uniform(0, 3 * _DAY, n), auth, pickable=True)

    def _pick_creators(self, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """k distinct benign creators, popularity-weighted (not hard negatives)."""
        cand = np.flatnonzero(self.creator & (self.hn < 0))
        if exclude is not None:
            cand = np.setdiff1d(cand, exclude)
        if cand.size == 0:
            cand = np.arange(self.N)
        w = self.pop[cand]
        return self.rng.choice(cand, size=min(k, cand.size), replace=False, p=w / w.sum())

    def _campaign_content(self, k: int, before: float) -> tuple[np.ndarray, np.ndarray]:
        """k distinct organic posts made before `before` (ids, post times) as a target set."""
        t, _, _, pick = self._content_arrays()
        cand = np.flatnonzero(pick & (t < before))
        if cand.size == 0:
            cand = np.flatnonzero(pick)
        chosen = self.rng.choice(cand, size=min(k, cand.size), replace=False)
        return chosen, t[chosen]

    def _pick_posts(
        self, t: np.ndarray, age: np.ndarray, pool_t: np.ndarray, pool_cw: np.ndarray
    ) -> np.ndarray:
        """Index into a time-sorted pool: a post near time t - age, weighted by popularity,
        always posted before t; falls back to any earlier post; -1 when there is none."""
        h = 0.5 * age + 2 * _HOUR
        center = t - age
        lo = np.searchsorted(pool_t, center - h, side="left")
        hi = np.searchsorted(pool_t, np.minimum(center + h, t), side="left")
        empty = np.flatnonzero(pool_cw[hi] <= pool_cw[lo])
        lo[empty] = 0
        hi[empty] = np.searchsorted(pool_t, t[empty], side="left")
        wl, wh = pool_cw[lo], pool_cw[hi]
        u = wl + self.rng.random(t.size) * (wh - wl)
        k = np.searchsorted(pool_cw, u, side="right") - 1
        k = np.clip(k, lo, np.maximum(hi - 1, lo))
        return np.where(wh > wl, k, -1)

    def _resolve_targets(self) -> None:
        """Targets of organic view/like/comment/share (content) and follow (account) events."""
        rng = self.rng
        c_t, c_author, c_w, c_pick = self._content_arrays()
        pool = np.flatnonzero(c_pick)
        pool_comm = self.community[c_author[pool]]
        order = np.lexsort((c_t[pool], pool_comm))
        pool = pool[order]
        pool_comm = pool_comm[order]
        g_order = np.argsort(c_t[pool], kind="stable")
        g_ids = pool[g_order]
        g_t = c_t[g_ids]
        g_cw = np.concatenate([[0.0], np.cumsum(c_w[g_ids])])
        comm_bounds = np.searchsorted(pool_comm, np.arange(self.n_comm + 1))

        # Follow targets: accounts by popularity (campaign accounts keep the floor weight).
        acc_comm_order = np.argsort(self.community, kind="stable")
        acc_bounds = np.searchsorted(self.community[acc_comm_order], np.arange(self.n_comm + 1))
        acc_cw = np.concatenate([[0.0], np.cumsum(self.pop)])

        for arrays, pref in self._organic:
            ev_t, ev_acct, etype, dev, ip, tc = arrays
            ta = np.full(ev_t.size, -1, dtype=np.int64)
            idx = np.flatnonzero(np.isin(etype, _CONTENT_EVENTS))
            age = rng.lognormal(np.log(5 * _HOUR), 1.3, idx.size)
            use_comm = rng.random(idx.size) < pref[idx]
            res = np.full(idx.size, -1, dtype=np.int64)
            sel = np.flatnonzero(use_comm)
            ecomm = self.community[ev_acct[idx[sel]]]
            eorder = np.argsort(ecomm, kind="stable")
            ebounds = np.searchsorted(ecomm[eorder], np.arange(self.n_comm + 1))
            for c in range(self.n_comm):
                e = sel[eorder[ebounds[c] : ebounds[c + 1]]]
                p0, p1 = comm_bounds[c], comm_bounds[c + 1]
                if e.size == 0 or p1 == p0:
                    continue
                ids = pool[p0:p1]
                cw = np.concatenate([[0.0], np.cumsum(c_w[ids])])
                k = self._pick_posts(ev_t[idx[e]], age[e], c_t[ids], cw)
                res[e] = np.where(k >= 0, ids[np.maximum(k, 0)], -1)
            rest = np.flatnonzero(res < 0)
            k = self._pick_posts(ev_t[idx[rest]], age[rest], g_t, g_cw)
            res[rest] = np.where(k >= 0, g_ids[np.maximum(k, 0)], -1)
            tc[idx] = res
            etype[idx[res < 0]] = _LOGIN  # nothing posted yet: the event degrades to a login

            fidx = np.flatnonzero(etype == _FOLLOW)
            use_comm = rng.random(fidx.size) < pref[fidx]
            u = rng.random(fidx.size)
            tgt = np.searchsorted(acc_cw, u * acc_cw[-1], side="right") - 1
            sel = np.flatnonzero(use_comm)
            fcomm = self.community[ev_acct[fidx[sel]]]
            forder = np.argsort(fcomm, kind="stable")
            fbounds = np.searchsorted(fcomm[forder], np.arange(self.n_comm + 1))
            for c in range(self.n_comm):
                e = sel[forder[fbounds[c] : fbounds[c + 1]]]
                a0, a1 = acc_bounds[c], acc_bounds[c + 1]
                if e.size == 0 or a1 == a0:
                    continue
                members = acc_comm_order[a0:a1]
                cw = np.concatenate([[0.0], np.cumsum(self.pop[members])])
                j = np.searchsorted(cw, u[e] * cw[-1], side="right") - 1
                tgt[e] = members[np.clip(j, 0, members.size - 1)]
            tgt = np.clip(tgt, 0, self.A - 1)
            selfie = tgt == ev_acct[fidx]
            tgt[selfie] = (tgt[selfie] + 1) % self.A
            ta[fidx] = tgt
            self._emit(ev_t, ev_acct, etype, dev, ip, tc, ta)
        self._organic = []

    # ---------------------------------------------------------------- benign special events

    def _simple_events(self, acct, t, kinds, tc=None, ta=None) -> None:
        """Events that are each their own session (single actions)."""
        dev, ip = self._assign_infra(acct, t)
        self._emit(t, acct, kinds, dev, ip, tc, ta)

    def _reactions(
        self,
        post_t: np.ndarray,
        post_c: np.ndarray,
        part_post: np.ndarray,
        part_acct: np.ndarray,
        delay: np.ndarray,
        p_comment: float,
        p_share: float,
        follow_target: np.ndarray | None = None,
        p_follow: float = 0.0,
    ) -> None:
        """One session per (post, participant): a like after `delay`, maybe a comment, share or
        follow of the author shortly after."""
        rng = self.rng
        n = part_acct.size
        if n == 0:
            return
        s_t = post_t[part_post] + delay
        extra = np.stack(
            [
                rng.random(n) < p_comment,
                rng.random(n) < p_share,
                rng.random(n) < p_follow if follow_target is not None else np.zeros(n, bool),
            ]
        )
        lens = 1 + extra.sum(axis=0)
        ev_sess, pos, first = _segment_positions(lens)
        gaps = rng.uniform(5, 90, ev_sess.size)
        gaps[first] = 0
        cs = np.cumsum(gaps)
        ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
        # kind of the k-th action: like, then the present extras in order comment/share/follow
        kinds_tbl = np.array([_COMMENT, _SHARE, _FOLLOW], dtype=np.int8)
        rank = np.cumsum(extra, axis=0) * extra  # 1-based position of each present extra
        etype = np.full(ev_sess.size, _LIKE, dtype=np.int8)
        later = pos > 0
        s_of = ev_sess[later]
        p_of = pos[later]
        which = np.argmax(rank[:, s_of] == p_of[None, :], axis=0)
        etype[later] = kinds_tbl[which]
        tc = post_c[part_post][ev_sess].astype(np.int64)
        ta = np.full(ev_sess.size, -1, dtype=np.int64)
        fol = etype == _FOLLOW
        if follow_target is not None:
            ta[fol] = follow_target[part_post][ev_sess][fol]
        tc[fol] = -1
        self._emit_sessions(part_acct, s_t, ev_sess, ev_t, etype, tc, ta)

    def _post_events(
        self, author: np.ndarray, t: np.ndarray, pickable: bool, weight_mult: float = 1.0
    ) -> np.ndarray:
        c = self._add_content(t, author, pickable=pickable, weight_mult=weight_mult)
        self._simple_events(author, t, np.full(t.size, _POST, np.int8), tc=c)
        return c

    def _viral_and_fans(self) -> None:
        rng, T = self.rng, self.T
        if self.viral:
            creators = self._pick_creators(len(self.viral))
            creators = creators[np.arange(len(self.viral)) % creators.size]
            vt = self._human_times(_DAY, T - 2 * _HOUR, self.tz[creators])
            vc = self._post_events(creators, vt, pickable=True, weight_mult=30.0)
            part_post = np.repeat(np.arange(len(self.viral)), [g.size for g in self.viral])
            part_acct = np.concatenate(self.viral)
            delay = 3600.0 * rng.random(part_acct.size) ** 1.7 + rng.uniform(5, 30, part_acct.size)
            self._reactions(vt, vc, part_post, part_acct, delay, 0.1, 0.15)
        if self.fans:
            hubs = self._pick_creators(len(self.fans))
            for gi, fans in enumerate(self.fans):
                hub = hubs[gi % hubs.size]
                n_posts = int(rng.integers(15, 41))
                pt = np.sort(self._human_times(0.0, T - _HOUR, np.full(n_posts, self.tz[hub])))
                pc = self._post_events(np.full(n_posts, hub), pt, pickable=True)
                propensity = rng.uniform(0.25, 0.7, fans.size)
                hit = rng.random((n_posts, fans.size)) < propensity[None, :]
                pp, ff = np.nonzero(hit)
                delay = 20 * _MIN + rng.lognormal(np.log(5 * _HOUR), 1.0, pp.size)
                self._reactions(pt, pc, pp, fans[ff], delay, 0.2, 0.1)

    def _kiosks(self) -> None:
        rng, days = self.rng, self.cfg.days
        for members, dev, ip in self.kiosks:
            n = rng.integers(1, 4, members.size)
            a = np.repeat(members, n)
            day = rng.integers(0, days, a.size)
            s_t = day * _DAY + rng.uniform(9, 18, a.size) * _HOUR - self.offset0
            lens = rng.integers(2, 7, a.size)
            ev_sess, pos, first = _segment_positions(lens)
            gaps = rng.lognormal(np.log(25.0), 1.0, ev_sess.size)
            gaps[first] = 0
            cs = np.cumsum(gaps)
            ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
            etype = self._draw_types(np.full(ev_sess.size, _MIX_KIOSK))
            etype[(pos == 0)] = _LOGIN  # a shared machine always needs a login
            arrays = (
                ev_t,
                a[ev_sess],
                etype,
                np.full(ev_sess.size, dev),
                np.full(ev_sess.size, ip),
                np.full(ev_sess.size, -1, dtype=np.int64),
            )
            self._organic.append((arrays, np.full(ev_sess.size, 0.5)))

    def _signups(self) -> None:
        a = np.flatnonzero((self.created >= 0) & (self.created < self.T))
        self._simple_events(a, self.created[a], np.full(a.size, _SIGNUP, np.int8))

    # ---------------------------------------------------------------- campaigns: activity

    def _bot_sessions(self, s_acct, s_t, lens, gap_lo, gap_hi, kinds, p_kinds, tgt_c, tgt_a):
        """Sessions of fast scripted actions on a target set (skewed to its first items)."""
        rng = self.rng
        ev_sess, _, first = _segment_positions(lens)
        gaps = rng.uniform(gap_lo, gap_hi, ev_sess.size)
        gaps[first] = 0
        cs = np.cumsum(gaps)
        ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
        etype = np.asarray(kinds, np.int8)[rng.choice(len(kinds), ev_sess.size, p=p_kinds)]
        tc = tgt_c[(tgt_c.size * rng.random(ev_sess.size) ** 2).astype(np.int64)]
        ta = tgt_a[(tgt_a.size * rng.random(ev_sess.size)).astype(np.int64)]
        fol = etype == _FOLLOW
        tc = np.where(fol, -1, tc)
        ta = np.where(fol, ta, -1)
        self._emit_sessions(s_acct, s_t, ev_sess, ev_t, etype, tc, ta)

    def _device_farm(self, c: int) -> None:
        rng, T = self.rng, self.T
        a = self._camp_accounts(c)
        ready = self.camp_burst[c] + 3 * _HOUR
        jobs = np.sort(rng.uniform(ready, T - _HOUR, int(rng.integers(15, 41))))
        tgt_c, _ = self._campaign_content(int(rng.integers(20, 61)), ready)
        tgt_a = self._pick_creators(int(rng.integers(5, 21)))
        n_sess = np.maximum(rng.poisson(rng.uniform(4, 10), a.size), 1)
        s_acct = np.repeat(a, n_sess)
        s_t = jobs[rng.integers(0, jobs.size, s_acct.size)] + rng.uniform(0, 45 * _MIN, s_acct.size)
        lens = rng.integers(3, 9, s_acct.size)
        self._bot_sessions(
            s_acct, s_t, lens, 2, 15, [_LIKE, _FOLLOW, _SHARE], [0.55, 0.2, 0.25], tgt_c, tgt_a
        )

    def _waves(
        self,
        c: int,
        n_targets: tuple[int, int],
        n_acc_targets: tuple[int, int],
        n_waves: tuple[int, int],
        frac: tuple[float, float],
        spread: float,
        p_share: float,
        p_follow: float,
    ) -> None:
        """Controller waves: many ring accounts like one target post within `spread` seconds."""
        rng, T = self.rng, self.T
        a = self._camp_accounts(c)
        tgt_c, tgt_t = self._campaign_content(int(rng.integers(*n_targets)), 0.6 * T)
        tgt_a = self._pick_creators(int(rng.integers(*n_acc_targets)))
        nw = int(rng.integers(*n_waves))
        item = rng.integers(0, tgt_c.size, nw)
        base = np.maximum(tgt_t[item], 0.0) + 10 * _MIN
        w_t = base + rng.random(nw) * np.maximum(T - _HOUR - base, 0.0)
        f = rng.uniform(*frac, nw)
        part = (rng.random((nw, a.size)) < f[:, None]) & (self.created[a][None, :] < w_t[:, None])
        wi, mi = np.nonzero(part)
        post_c = tgt_c[item]
        follow_t = tgt_a[rng.integers(0, tgt_a.size, nw)]
        delay = rng.uniform(0, spread, wi.size)
        self._reactions_bot(w_t, post_c, wi, a[mi], delay, p_share, follow_t, p_follow)

    def _reactions_bot(self, w_t, post_c, wi, accts, delay, p_share, follow_t, p_follow):
        # Same shape as organic reactions but with bot-speed gaps between the actions.
        rng = self.rng
        n = accts.size
        if n == 0:
            return
        s_t = w_t[wi] + delay
        share = rng.random(n) < p_share
        follow = rng.random(n) < p_follow
        lens = 1 + share + follow
        ev_sess, pos, first = _segment_positions(lens)
        gaps = rng.uniform(1, 20, ev_sess.size)
        gaps[first] = 0
        cs = np.cumsum(gaps)
        ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
        etype = np.full(ev_sess.size, _LIKE, dtype=np.int8)
        # position 1 is a share when present, otherwise a follow; position 2 is the follow
        s = ev_sess
        is_share = (pos == 1) & share[s]
        is_follow = ((pos == 1) & ~share[s] & follow[s]) | (pos == 2)
        etype[is_share] = _SHARE
        etype[is_follow] = _FOLLOW
        tc = np.where(is_follow, -1, post_c[wi][s])
        ta = np.where(is_follow, follow_t[wi][s], -1)
        self._emit_sessions(accts, s_t, ev_sess, ev_t, etype, tc, ta)

    def _engagement_pod(self, c: int) -> None:
        rng, T = self.rng, self.T
        a = self._camp_accounts(c)
        n_posts = rng.poisson(self.cfg.days / 15.0, a.size) + 1
        author = np.repeat(a, n_posts)
        pt = self._human_times(
            np.maximum(self.created[author], 0.0) + _HOUR, T - _HOUR, self.tz[author]
        )
        # Pod posts are invisible to organic engagement: almost nobody outside the pod sees them.
        pc = self._post_events(author, pt, pickable=False)
        p_member = rng.uniform(0.5, 0.9, a.size)
        hit = rng.random((pt.size, a.size)) < p_member[None, :]
        hit &= author[:, None] != a[None, :]
        pp, mm = np.nonzero(hit)
        delay = 20.0 + rng.lognormal(np.log(4 * _MIN), 0.6, pp.size)
        self._reactions(pt, pc, pp, a[mm], delay, 0.25, 0.05)

    def _paid_boost(self, c: int) -> None:
        rng, T = self.rng, self.T
        a = self._camp_accounts(c)
        n_orders = int(rng.integers(15, 41))
        customers = self._pick_creators(max(2, n_orders // 3))
        cust = customers[rng.integers(0, customers.size, n_orders)]
        ot = self._human_times(_HOUR, T - _HOUR, self.tz[cust])
        oc = self._post_events(cust, ot, pickable=True)
        f = rng.uniform(0.3, 0.6, n_orders)
        hit = rng.random((n_orders, a.size)) < f[:, None]
        oo, mm = np.nonzero(hit)
        delay = 15.0 + 600.0 * rng.random(oo.size) ** 1.2
        self._reactions(ot, oc, oo, a[mm], delay, 0.15, 0.0, follow_target=cust, p_follow=0.3)

    def _campaigns(self) -> None:
        for c, kind in enumerate(self.camp_kind):
            if kind == "device_farm":
                self._device_farm(c)
            elif kind == "proxy_ring":
                self._waves(c, (10, 31), (3, 9), (20, 46), (0.4, 0.8), 240.0, 0.3, 0.2)
            elif kind == "engagement_pod":
                self._engagement_pod(c)
            elif kind == "paid_boost":
                self._paid_boost(c)
            elif kind == "tiny_ring":
                self._waves(c, (3, 11), (1, 4), (8, 26), (0.6, 1.0), 300.0, 0.0, 0.15)

    def _camouflage(self) -> None:
        """Organic activity for campaign accounts: 30-50% (per campaign) of their events."""
        if self.A == self.N:
            return
        acct = np.concatenate([ch[1] for ch in self._chunks]).astype(np.int64)
        counts = np.bincount(acct, minlength=self.A)[self.N :]
        a = np.arange(self.N, self.A)
        r = self.camp_camo[self.camp[a]]
        mean = np.maximum(3.0, counts * r / (1 - r))
        # Pods pass as ordinary users (community interests); others just hit popular content.
        pod = self.popcode[a] == _POD
        mix = np.where(pod, _MIX_REGULAR, _MIX_CAMO)
        self._sessions(a[pod], mean[pod], mix[pod], pref=0.5)
        self._sessions(a[~pod], mean[~pod], mix[~pod], pref=0.0)

    # ---------------------------------------------------------------- assembly

    def _ip_strings(self) -> pl.Series:
        vals = np.concatenate(self._ip_vals)
        v6 = np.concatenate(self._ip_v6)
        single = np.concatenate(self._ip_single)
        # Redraw singleton IPv4 addresses that collide with another address or fall in a /24
        # used by a structured block (carrier, campus, datacenter).
        struct_pref = np.array(sorted(self._used_prefixes), dtype=np.uint64)
        for _ in range(20):
            v4 = np.flatnonzero(~v6)
            _, first_idx, inv = np.unique(vals[v4], return_index=True, return_inverse=True)
            dup = np.ones(v4.size, dtype=bool)
            dup[first_idx] = False
            dup |= np.isin(vals[v4] >> np.uint64(8), struct_pref)
            bad = v4[dup & single[v4]]
            if bad.size == 0:
                break
            vals[bad] = self._random_v4(bad.size)
        n = vals.size
        out_v4 = np.flatnonzero(~v6)
        x = vals[out_v4]
        octets = {
            name: ((x >> np.uint64(shift)) & np.uint64(255)).astype(np.int64)
            for name, shift in (("a", 24), ("b", 16), ("c", 8), ("d", 0))
        }
        parts = pl.DataFrame(octets)
        s4 = parts.select(pl.format("{}.{}.{}.{}", "a", "b", "c", "d")).to_series()
        out_v6 = np.flatnonzero(v6)
        y = vals[out_v6]
        # 2xxx:gggg:gggg:gggg::gggg, groups >= 0x1000 so the text is already in canonical form.
        mat = np.empty((y.size, 25), dtype=np.uint8)
        mat[:, 0:4] = _hex_chars(_V6_FIRST[(y >> np.uint64(59)) % np.uint64(_V6_FIRST.size)], 4)
        colon = ord(":")
        for gi, col in enumerate((5, 10, 15, 21)):
            g = np.uint64(0x1000) + ((y >> np.uint64(16 * gi)) & np.uint64(0xFFFF)) % np.uint64(
                0xF000
            )
            mat[:, col : col + 4] = _hex_chars(g, 4)
        mat[:, [4, 9, 14, 19, 20]] = colon
        s6 = _ascii_series(mat)
        both = pl.concat([s4, s6])
        where = np.empty(n, dtype=np.int64)
        where[out_v4] = np.arange(out_v4.size)
        where[out_v6] = out_v4.size + np.arange(out_v6.size)
        return both.gather(pl.Series(where))

    def _assemble(self) -> World:
        cfg, rng = self.cfg, self.rng
        cols = list(zip(*self._chunks, strict=True))
        self._chunks = []
        t = np.concatenate(cols[0])
        keep = (t >= 0) & (t < self.T)
        t = t[keep]
        acct, etype, dev, ip, tc, ta = (np.concatenate(c)[keep] for c in cols[1:])
        del cols
        ip = np.where(rng.random(ip.size) < 0.002, -1, ip)  # rare missing IPs
        t_us = np.floor(t * 1e6).astype(np.int64)
        del t

        # Identifier namespaces: keyed scramble of a seeded permutation (ids reveal nothing).
        key = rng.integers(0, 1 << 62, 4)
        acc_vals = _scramble(rng.permutation(self.A), 40, int(key[0]))
        acc_rank = np.empty(self.A, dtype=np.int64)
        acc_rank[np.argsort(acc_vals)] = np.arange(self.A)  # id strings sort like the values
        mat = np.empty((self.A, 11), dtype=np.uint8)
        mat[:, 0] = ord("u")
        mat[:, 1:] = _hex_chars(acc_vals, 10)
        acc_str = _ascii_series(mat)
        dev_str = _id_strings(self.n_dev, "d", 12, int(key[1]), rng.permutation(self.n_dev))
        con_str = _id_strings(self.n_content, "c", 10, int(key[2]), rng.permutation(self.n_content))
        ip_str = self._ip_strings()

        # Sort by (event_time, account_id); stable so equal keys keep a deterministic order.
        rank = acc_rank[acct]
        bits = max(1, int(self.A - 1).bit_length())
        if int(t_us.max(initial=0)) < (1 << (62 - bits)):
            order = np.argsort((t_us << bits) | rank, kind="stable")
        else:
            order = np.lexsort((rank, t_us))
        del rank

        def nullable(table: pl.Series, idx: np.ndarray) -> pl.Series:
            # The extra last row is null; index -1 maps onto it.
            full = pl.concat([table, pl.Series([None], dtype=pl.String)])
            return full.gather(pl.Series(np.where(idx < 0, table.len(), idx)[order]))

        tgt_idx = np.where(tc >= 0, tc, np.where(ta >= 0, self.n_content + ta, -1))
        events = (
            pl.DataFrame(
                {
                    TIME: pl.Series(t_us[order] + self.start_us).cast(pl.Datetime("us", "UTC")),
                    ACCOUNT: acc_str.gather(pl.Series(acct[order])),
                    EVENT_TYPE: pl.Series(list(EVENT_TYPES), dtype=pl.String).gather(
                        pl.Series(etype[order].astype(np.int64))
                    ),
                    DEVICE: nullable(dev_str, dev),
                    IP: nullable(ip_str, ip),
                    TARGET: nullable(pl.concat([con_str, acc_str]), tgt_idx),
                }
            )
            .select(EVENT_COLUMNS)
            .cast(EVENT_SCHEMA)
        )

        # Truth: every account with at least one event.
        present = np.flatnonzero(np.bincount(acct, minlength=self.A) > 0)
        present = present[np.argsort(acc_rank[present])]
        camp = self.camp[present]
        kind_tbl = pl.Series([None, *self.camp_id], dtype=pl.String)
        ckind_tbl = pl.Series([None, *self.camp_kind], dtype=pl.String)
        label_tbl = pl.Series(
            [BENIGN, *(CAMPAIGN_LABEL[k] for k in self.camp_kind)], dtype=pl.String
        )
        hn_tbl = pl.Series([None, *HARD_NEGATIVE_KINDS], dtype=pl.String)
        ci = pl.Series(camp + 1)
        truth = pl.DataFrame(
            {
                ACCOUNT: acc_str.gather(pl.Series(present)),
                LABEL: label_tbl.gather(ci),
                "campaign_id": kind_tbl.gather(ci),
                "campaign_kind": ckind_tbl.gather(ci),
                "hard_negative": hn_tbl.gather(pl.Series(self.hn[present].astype(np.int64) + 1)),
            }
        ).cast(TRUTH_SCHEMA)

        # Labels: a random label_fraction of accounts; unlabeled kinds dropped; noise flips.
        n = present.size
        chosen = np.zeros(n, dtype=bool)
        chosen[rng.permutation(n)[: int(round(cfg.label_fraction * n))]] = True
        kinds_present = np.array([""] + self.camp_kind, dtype=object)[camp + 1]
        for k in cfg.unlabeled_kinds:
            chosen &= kinds_present != k
        labels_arr = label_tbl.gather(ci).to_numpy().astype(object)
        abusive = np.flatnonzero(chosen & (camp >= 0))
        n_flip = int(round(cfg.label_noise * abusive.size))
        flip = rng.permutation(abusive)[:n_flip]
        labels_arr[flip] = BENIGN
        rows = np.flatnonzero(chosen)
        labels = pl.DataFrame(
            {
                ACCOUNT: acc_str.gather(pl.Series(present[rows])),
                LABEL: pl.Series(labels_arr[rows].tolist(), dtype=pl.String),
            }
        )
        return World(events=events, labels=labels, truth=truth)

    # ---------------------------------------------------------------- driver

    def build(self) -> World:
        self._plan()
        self._accounts()
        self._hard_negatives()
        self._campaign_setup()
        benign = np.arange(self.N)
        mix = np.where(self.creator[benign], _MIX_CREATOR, _MIX_REGULAR)
        self._sessions(benign, self.activity[benign], mix, pref=0.5)
        self._backlog()
        self._viral_and_fans()
        self._campaigns()
        self._camouflage()
        self._kiosks()
        self._signups()
        self._resolve_targets()
        return self._assemble()
