"""The state one simulation run builds up, shared by every generator module.

A world is generated as integer-coded numpy arrays: accounts, devices, IPs and content are
indices handed out by the registries here, times are float seconds since the window start, and
event rows accumulate as column chunks in an `EventLog`. Only `world.assemble` turns indices
into id strings. Every random draw goes through the one generator `SimState.rng`, in a fixed
order; that order is what makes a seed reproduce a world byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphguard.simulate.clock import Clock
from graphguard.simulate.config import SimulationConfig

#: IPv4 first octets used for every kind of address (public unicast, avoiding reserved blocks),
#: so an address's text says nothing about whether it is residential, carrier, campus or
#: datacenter.
FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)], dtype=np.uint64
)


def _no_ids() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class Network:
    """Device and IP registry, and the shared address pools accounts draw sessions from.

    IP values are 32-bit ints for v4 and 64 random bits for v6 (rendered as groups later);
    `single` marks addresses that may be redrawn when they collide (homes, hotspots, kiosks),
    as opposed to structured /24 blocks.
    """

    rng: np.random.Generator
    n_dev: int = 0
    n_ip: int = 0
    ip_vals: list[np.ndarray] = field(default_factory=list)
    ip_v6: list[np.ndarray] = field(default_factory=list)
    ip_single: list[np.ndarray] = field(default_factory=list)
    used_prefixes: set[int] = field(default_factory=set)
    # Carrier-grade NAT pools, one per carrier: cg_all[cg_start[c] : cg_start[c] + cg_n[c]].
    cg_start: np.ndarray = field(default_factory=_no_ids)
    cg_n: np.ndarray = field(default_factory=_no_ids)
    cg_all: np.ndarray = field(default_factory=_no_ids)
    hotspots: np.ndarray = field(default_factory=_no_ids)
    campus: list[np.ndarray] = field(default_factory=list)  # IPs of each campus group
    # Shared device/IP pools of campaign accounts (Accounts.dev_start/ip_start point in here);
    # collected in parts, then concatenated by `infrastructure.seal_pools`.
    pool_dev_parts: list[np.ndarray] = field(default_factory=list)
    pool_ip_parts: list[np.ndarray] = field(default_factory=list)
    pool_dev_n: int = 0
    pool_ip_n: int = 0
    pool_dev: np.ndarray = field(default_factory=_no_ids)
    pool_ip: np.ndarray = field(default_factory=_no_ids)
    resid_ips: np.ndarray = field(default_factory=_no_ids)  # what proxy rings rent

    def new_devices(self, k: int) -> np.ndarray:
        out = np.arange(self.n_dev, self.n_dev + k, dtype=np.int64)
        self.n_dev += k
        return out

    def add_ips(self, vals: np.ndarray, v6: np.ndarray, single: bool) -> np.ndarray:
        k = vals.size
        self.ip_vals.append(vals.astype(np.uint64))
        self.ip_v6.append(v6.astype(bool))
        self.ip_single.append(np.full(k, single))
        out = np.arange(self.n_ip, self.n_ip + k, dtype=np.int64)
        self.n_ip += k
        return out

    def random_v4(self, k: int) -> np.ndarray:
        rng = self.rng
        o1 = FIRST_OCTETS[rng.integers(0, FIRST_OCTETS.size, k)]
        mid = rng.integers(0, 1 << 16, k).astype(np.uint64)
        host = rng.integers(1, 255, k).astype(np.uint64)
        return (o1 << np.uint64(24)) | (mid << np.uint64(8)) | host

    def single_ips(self, k: int, v6_share: float = 0.0) -> np.ndarray:
        """k independent addresses (homes, hotspots, kiosks); collisions are redrawn later."""
        v6 = self.rng.random(k) < v6_share
        vals = self.random_v4(k)
        vals[v6] = self.rng.integers(
            0, np.iinfo(np.int64).max, int(v6.sum()), dtype=np.int64
        ).astype(np.uint64)
        return self.add_ips(vals, v6, single=True)

    def subnet_ips(self, n_prefixes: int, n_ips: int) -> np.ndarray:
        """n_ips distinct IPv4 addresses spread over n_prefixes fresh /24s (carrier NAT pools,
        campus networks, datacenter ranges)."""
        rng = self.rng
        prefixes: list[int] = []
        while len(prefixes) < n_prefixes:
            o1 = int(FIRST_OCTETS[rng.integers(0, FIRST_OCTETS.size)])
            p = (o1 << 16) | int(rng.integers(0, 1 << 16))
            if p not in self.used_prefixes:
                self.used_prefixes.add(p)
                prefixes.append(p)
        per = np.full(n_prefixes, n_ips // n_prefixes)
        per[: n_ips % n_prefixes] += 1
        vals = []
        for p, k in zip(prefixes, per, strict=True):
            hosts = rng.permutation(254)[: min(int(k), 254)] + 1
            vals.append((np.uint64(p) << np.uint64(8)) | hosts.astype(np.uint64))
        v = np.concatenate(vals)
        return self.add_ips(v, np.zeros(v.size, bool), single=False)


@dataclass
class Content:
    """Content registry: post time, author, popularity weight, and whether organic engagement
    may pick the post as a target (pod posts may not)."""

    t: list[np.ndarray] = field(default_factory=list)
    author: list[np.ndarray] = field(default_factory=list)
    w: list[np.ndarray] = field(default_factory=list)
    pick: list[np.ndarray] = field(default_factory=list)
    n: int = 0

    def add(self, t: np.ndarray, author: np.ndarray, w: np.ndarray, pickable: bool) -> np.ndarray:
        k = t.size
        self.t.append(t.astype(np.float64))
        self.author.append(author.astype(np.int64))
        self.w.append(w)
        self.pick.append(np.full(k, pickable))
        out = np.arange(self.n, self.n + k, dtype=np.int64)
        self.n += k
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(t, author, w, pick) over all content registered so far."""
        return (
            np.concatenate(self.t),
            np.concatenate(self.author),
            np.concatenate(self.w),
            np.concatenate(self.pick),
        )


#: Columns of an event chunk: (t, acct, etype, dev, ip, target content, target account).
EventChunk = tuple[np.ndarray, ...]


@dataclass
class EventLog:
    """Event rows as column chunks; a target of -1 means none, and so does a device or IP.

    Organic chunks wait in `organic` (with each event's chance of picking a target inside the
    account's own community) until all content exists; `content.resolve_targets` then fills in
    their view/like/comment/share/follow targets and emits them.
    """

    chunks: list[EventChunk] = field(default_factory=list)
    organic: list[tuple[EventChunk, np.ndarray]] = field(default_factory=list)

    def emit(
        self,
        t: np.ndarray,
        acct: np.ndarray,
        etype: np.ndarray | int,
        dev: np.ndarray,
        ip: np.ndarray,
        tc: np.ndarray | None = None,
        ta: np.ndarray | None = None,
    ) -> None:
        n = t.size
        none = np.full(n, -1, dtype=np.int32)
        self.chunks.append(
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


@dataclass
class CampaignPlan:
    """Which campaigns exist and which account indices they own.

    Benign accounts are 0..n_benign-1; campaign c owns the next `size[c]` indices from
    `start[c]`, so campaigns come after every benign account.
    """

    kinds: list[str]  # kind of each campaign
    ids: list[str]  # "device_farm-01", ...: numbered from 01 per kind
    start: np.ndarray
    size: np.ndarray
    n_benign: int
    n_total: int  # all accounts, benign and campaign
    of_account: np.ndarray  # campaign index per account, -1 for benign
    popcode: np.ndarray  # per account: 0 benign, else CAMPAIGN_KINDS index + 1
    burst: np.ndarray  # device farms' signup burst time (0 for other kinds)
    camo_share: np.ndarray  # share of a campaign's events that are camouflage

    def accounts(self, c: int) -> np.ndarray:
        return np.arange(self.start[c], self.start[c] + self.size[c])


@dataclass
class Accounts:
    """Per-account attributes (arrays over all accounts, campaigns included).

    Drawn benign for everyone by `benign.draw_accounts`, then overridden for hard negatives and
    campaign accounts. The device/IP fields drive `infrastructure.assign_infra`: dev_mode 0
    personal devices dev1/dev2, 1 a shared pool, 2 a fresh device per session, 3 an app
    reinstaller walking through reinstall_k + 1 ids from dev1; ip_mode 0 home/mobile/hotspot
    (campus at office hours), 1 a shared pool, 2 rented residential or CGNAT addresses.
    """

    n_comm: int  # number of interest communities
    created: np.ndarray  # creation time; negative = before the window
    activity: np.ndarray  # mean organic events over the window
    community: np.ndarray
    creator: np.ndarray  # benign creators: the popular authors and follow targets
    pop: np.ndarray  # popularity (weight of posts and of follows)
    tz: np.ndarray  # hours off UTC
    daytime: np.ndarray  # office-hours activity profile (campus groups)
    mobile: np.ndarray  # share of sessions via carrier NAT
    carrier: np.ndarray
    hn: np.ndarray  # hard-negative code (config.HN_CODE), -1 for none
    dev_mode: np.ndarray
    ip_mode: np.ndarray
    dev1: np.ndarray
    dev2: np.ndarray  # second personal device, -1 for none
    dev_start: np.ndarray  # device pool slice (dev_mode 1)
    dev_n: np.ndarray
    ip_start: np.ndarray  # IP pool slice (ip_mode 1)
    ip_n: np.ndarray
    reinstall_k: np.ndarray
    reinstall_gamma: np.ndarray  # warps time, so reinstalls are not evenly spaced
    campus_grp: np.ndarray  # index into Network.campus, -1 for none
    home_ip: np.ndarray


@dataclass
class SimState:
    """Everything one run shares: settings, the generator, the clock and the growing world."""

    cfg: SimulationConfig
    rng: np.random.Generator
    clock: Clock
    plan: CampaignPlan
    acc: Accounts
    net: Network
    content: Content = field(default_factory=Content)
    log: EventLog = field(default_factory=EventLog)
