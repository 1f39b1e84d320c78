"""Identifier strings that never encode populations.

Every id namespace (accounts, devices, content) is a keyed bijective scramble of a seeded
permutation, so sorting by id is random with respect to campaigns. IPv4 first octets come from
the same distribution for every kind of address, so an IP's text says nothing about its kind;
only sharing and /24 concentration do. All rendering is vectorised over ASCII byte matrices.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.simulate.state import Network

#: IPv6 first groups (global unicast allocations of a few registries).
_V6_FIRST = np.array(
    [0x2001, 0x2003, 0x2400, 0x2600, 0x2601, 0x2804, 0x2A00, 0x2A01, 0x2A02, 0x2C0F],
    dtype=np.uint64,
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def scramble(idx: np.ndarray, bits: int, key: int) -> np.ndarray:
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


def hex_chars(x: np.ndarray, nchars: int) -> np.ndarray:
    """(n, nchars) ASCII matrix of the low `nchars` hex digits of uint64 `x`, most significant
    first."""
    shifts = (4 * np.arange(nchars - 1, -1, -1)).astype(np.uint64)
    return _HEX[((x[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]


def ascii_series(mat: np.ndarray) -> pl.Series:
    """Rows of an (n, k) uint8 ASCII matrix as a polars String series (no per-row Python)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return pl.Series(mat.view(f"S{mat.shape[1]}").ravel()).cast(pl.String)


def id_strings(n: int, prefix: str, nchars: int, key: int, perm: np.ndarray) -> pl.Series:
    """`prefix` + `nchars` hex digits of the keyed scramble of `perm[i]`, for i < n."""
    vals = scramble(perm[:n], 4 * nchars, key)
    mat = np.empty((n, len(prefix) + nchars), dtype=np.uint8)
    mat[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    mat[:, len(prefix) :] = hex_chars(vals, nchars)
    return ascii_series(mat)


def account_ids(perm: np.ndarray, key: int) -> tuple[pl.Series, np.ndarray]:
    """Account ids ("u" + 10 hex digits) of the scrambled `perm`, and each account's rank in
    id order (the strings sort like the scrambled values)."""
    n = perm.size
    vals = scramble(perm, 40, key)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(vals)] = np.arange(n)
    mat = np.empty((n, 11), dtype=np.uint8)
    mat[:, 0] = ord("u")
    mat[:, 1:] = hex_chars(vals, 10)
    return ascii_series(mat), rank


def ip_strings(net: Network) -> pl.Series:
    """Text of every registered IP, in index order.

    Singleton IPv4 addresses that collide with another address, or fall in a /24 used by a
    structured block (carrier, campus, datacenter), are redrawn first (from `net.rng`).
    """
    vals = np.concatenate(net.ip_vals)
    v6 = np.concatenate(net.ip_v6)
    single = np.concatenate(net.ip_single)
    struct_pref = np.array(sorted(net.used_prefixes), dtype=np.uint64)
    for _ in range(20):
        v4 = np.flatnonzero(~v6)
        _, first_idx = np.unique(vals[v4], return_index=True)
        dup = np.ones(v4.size, dtype=bool)
        dup[first_idx] = False
        dup |= np.isin(vals[v4] >> np.uint64(8), struct_pref)
        bad = v4[dup & single[v4]]
        if bad.size == 0:
            break
        vals[bad] = net.random_v4(bad.size)
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
    mat[:, 0:4] = hex_chars(_V6_FIRST[(y >> np.uint64(59)) % np.uint64(_V6_FIRST.size)], 4)
    colon = ord(":")
    for gi, col in enumerate((5, 10, 15, 21)):
        g = np.uint64(0x1000) + ((y >> np.uint64(16 * gi)) & np.uint64(0xFFFF)) % np.uint64(0xF000)
        mat[:, col : col + 4] = hex_chars(g, 4)
    mat[:, [4, 9, 14, 19, 20]] = colon
    s6 = ascii_series(mat)
    both = pl.concat([s4, s6])
    where = np.empty(n, dtype=np.int64)
    where[out_v4] = np.arange(out_v4.size)
    where[out_v6] = out_v4.size + np.arange(out_v6.size)
    return both.gather(pl.Series(where))
