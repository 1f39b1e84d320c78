"""Which device and IP each session comes from.

Accounts get their hardware set up once (households sharing a home IP and maybe a device,
shared device/IP pools); `assign_infra` then picks a device and an IP for every session,
vectorised over sessions, according to each account's dev_mode and ip_mode
(see `state.Accounts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphguard.simulate.state import SimState


def households(
    s: SimState, members: np.ndarray, sizes_p: Sequence[float], lo: int, shared_device: bool
) -> None:
    """Group `members` (random order) into households sharing a home IP (and one device).

    Household sizes are lo, lo+1, ... with probabilities `sizes_p`.
    """
    rng, acc = s.rng, s.acc
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
    ips = s.net.single_ips(sizes.size, v6_share=0.1)
    order = rng.permutation(members)
    acc.home_ip[order] = ips[hh]
    if shared_device:
        devs = s.net.new_devices(sizes.size)
        acc.dev1[order] = devs[hh]
        # Most family members have no second (personal) device.
        acc.dev2[order[rng.random(n) < 0.8]] = -1


def add_pool(
    s: SimState, accts: np.ndarray, devs: np.ndarray | None, ips: np.ndarray | None
) -> None:
    """Give `accts` a shared device pool and/or IP pool (uniform choice per session)."""
    acc, net = s.acc, s.net
    if devs is not None:
        net.pool_dev_parts.append(devs)
        acc.dev_start[accts] = net.pool_dev_n
        acc.dev_n[accts] = devs.size
        acc.dev_mode[accts] = 1
        net.pool_dev_n += devs.size
    if ips is not None:
        net.pool_ip_parts.append(ips)
        acc.ip_start[accts] = net.pool_ip_n
        acc.ip_n[accts] = ips.size
        acc.ip_mode[accts] = 1
        net.pool_ip_n += ips.size


def seal_pools(s: SimState) -> None:
    """Fix the shared pools once every account's hardware is set up, before any session."""
    net = s.net
    net.pool_dev = (
        np.concatenate(net.pool_dev_parts) if net.pool_dev_parts else np.zeros(0, dtype=np.int64)
    )
    net.pool_ip = (
        np.concatenate(net.pool_ip_parts) if net.pool_ip_parts else np.zeros(0, dtype=np.int64)
    )
    # Residential IPs of real users: the pool proxy rings rent from.
    net.resid_ips = np.unique(s.acc.home_ip[: s.plan.n_benign])


def assign_infra(s: SimState, acct: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Device and IP for sessions of `acct` starting at `t` (vectorised over sessions).

    dev_mode 0: personal device (second device 35% of sessions), 1: uniform from the
    account's device pool, 2: a never-seen device id every session, 3: app reinstaller
    (device index advances with warped time). ip_mode 0: home IP, CGNAT for mobile sessions,
    1.5% hotspots, campus IPs at office hours for campus groups; 1: uniform from the
    account's IP pool; 2: rented residential (real users' home IPs, 60%) or CGNAT (40%).
    """
    rng, acc, net = s.rng, s.acc, s.net
    n = acct.size
    u = rng.random((4, n))
    dmode = acc.dev_mode[acct]
    dev = np.where((acc.dev2[acct] >= 0) & (u[0] < 0.35), acc.dev2[acct], acc.dev1[acct])
    m = dmode == 1
    if m.any():
        a = acct[m]
        dev[m] = net.pool_dev[acc.dev_start[a] + (u[0, m] * acc.dev_n[a]).astype(np.int64)]
    m = dmode == 2
    if m.any():
        dev[m] = net.new_devices(int(m.sum()))
    m = dmode == 3
    if m.any():
        a = acct[m]
        x = np.clip(t[m] / s.clock.span, 0.0, 1.0) ** acc.reinstall_gamma[a]
        seg = np.minimum((x * (acc.reinstall_k[a] + 1)).astype(np.int64), acc.reinstall_k[a])
        dev[m] = acc.dev1[a] + seg
    dev[u[3] < 0.01] = -1  # web sessions without a device fingerprint

    imode = acc.ip_mode[acct]
    mob = acc.mobile[acct]
    car = acc.carrier[acct]
    cg_pick = net.cg_all[net.cg_start[car] + (u[2] * net.cg_n[car]).astype(np.int64)]
    hot = net.hotspots[(u[2] * net.hotspots.size).astype(np.int64)]
    ip = np.where(u[1] < mob, cg_pick, np.where(u[1] < mob + 0.015, hot, acc.home_ip[acct]))
    cg = acc.campus_grp[acct]
    m = (cg >= 0) & (imode == 0)
    if m.any():
        idx = np.flatnonzero(m)
        office = s.clock.is_office_time(t[idx], acc.tz[acct[idx]]) & (u[1, idx] < 0.85)
        idx = idx[office]
        for gi in np.unique(cg[idx]):
            sub = idx[cg[idx] == gi]
            ips = net.campus[gi]
            ip[sub] = ips[(u[2, sub] * ips.size).astype(np.int64)]
    m = imode == 1
    if m.any():
        a = acct[m]
        ip[m] = net.pool_ip[acc.ip_start[a] + (u[2, m] * acc.ip_n[a]).astype(np.int64)]
    m = imode == 2
    if m.any():
        k = int(m.sum())
        res = net.resid_ips[rng.integers(0, net.resid_ips.size, k)]
        cgr = net.cg_all[rng.integers(0, net.cg_all.size, k)]
        ip[m] = np.where(u[1, m] < 0.6, res, cgr)
    return dev, ip
