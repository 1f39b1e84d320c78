"""Account-account projections through shared devices, IPs and targets, bounded on hubs.

All four projections use one mechanism, `windowed_pairs`: inside each shared entity (a device, an
IP, a target), occurrences sorted by time are paired with the next ``window_rows`` occurrences
only, optionally also within ``max_gap``. An entity with k occurrences therefore yields at most
``k * window_rows`` pairs instead of k^2/2, so a carrier-grade NAT IP used by 10,000 accounts
costs 10,000 * window_rows candidate pairs, not 50 million. Pairs that co-occur by chance on a hub
are unlikely to recur, which is why every relation then aggregates per account pair and keeps only
pairs with repeated support.

Memory is bounded by `LocalConfig`, not by the log: pairs are made in blocks of at most
``block_pairs`` rows (an entity of any size, hubs included, is cut at row boundaries: a pair
belongs to its earlier occurrence's block), each block is routed by a hash of its account pair
to one of ``partitions`` partitions, spilled to ``work_dir`` when there is more than one, and
each partition is aggregated on its own. Blocks come in the order one pass would make them, so
every pair's weight is summed in the same order whatever the partition count.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from graphguard.config import GraphConfig, LocalConfig, RelationConfig
from graphguard.graph.context import (
    US,
    device_usage_of_accounts,
    engagements,
    has_hardware,
    hour_key,
    target_reach,
)
from graphguard.schema import ANY_RELATION, RELATIONS

__all__ = [
    "ANY_RELATION",
    "RELATIONS",
    "EntityUse",
    "all_relations",
    "relation_tables",
    "remove_stale_spills",
    "spill_folder",
    "windowed_pairs",
]

#: spill folders are named after the process that owns them, so a later run can tell a killed
#: run's folder (its process is gone) from a live neighbour's
_SPILL_PREFIX = "graphguard-pairs-pid"

#: a pair row as a partition holds it: 64-bit pair key, float64 weight, 64-bit extra key
_PAIR_BYTES = 24
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_LOW = np.uint64(0xFFFFFFFF)


def windowed_pairs(
    occurrences: pl.DataFrame,
    *,
    key: str,
    window_rows: int,
    max_gap_us: int | None = None,
    carry: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Pair each occurrence with the next ``window_rows`` occurrences of the same ``key``.

    Args:
        occurrences: columns ``key``, ``account`` (int), ``t`` (int64 microseconds) and any
            ``carry`` columns; one row per (key, account, occasion).
        key: the shared entity column (device, IP, target, ...).
        window_rows: how many following occurrences each one is paired with: the hub bound.
        max_gap_us: pairs further apart in time than this are dropped (None: no limit).
        carry: columns copied from both occurrences of a pair: ``c`` from the earlier one and
            ``c_next`` from the later one.

    Returns:
        One row per pair of different accounts, with ``src < dst``, ``entity`` (an integer id
        of the shared ``key`` value, cheaper to carry than the string), ``dt_us`` and the
        carried columns. At most ``len(occurrences) * window_rows`` rows.
    """
    occ = _sorted(occurrences, key)
    pairs = _Pairing(occ, key, window_rows, max_gap_us)
    blocks = list(pairs.blocks(block_pairs=1 << 62))
    first = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
    second = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
    t = occ.get_column("t").to_numpy()
    src, dst = pairs.ends(first, second)
    columns: dict[str, object] = {
        "src": src,
        "dst": dst,
        "dt_us": t[second] - t[first],
        "entity": pairs.entity[first],
    }
    for c in carry:
        column = occ.get_column(c)
        columns[c] = column.gather(first)
        columns[f"{c}_next"] = column.gather(second)
    return pl.DataFrame(columns)


def _sorted(occurrences: pl.DataFrame, key: str) -> pl.DataFrame:
    """Occurrences in the order they are paired: by entity, time, account.

    Where the entity's code (an Enum's or Categorical's physical id, which ranks as its text
    for the `io.encode_ids` Enums, or an unsigned integer) and the time less its minimum fit
    64 bits together, by that one packed key and the account: the same order, a sort of two
    integer columns instead of three (about twice as fast on millions of rows)."""
    keys = [key, "t", "account"]
    if occurrences.height < 2:
        return occurrences.sort(keys)
    dtype = occurrences.get_column(key).dtype  # not the frame's schema: every Enum's categories
    coded = isinstance(dtype, pl.Enum) or dtype in (pl.UInt8, pl.UInt16, pl.UInt32)
    span = occurrences.select(
        pl.col(key).to_physical().max().alias("k1"),
        pl.col("t").min().alias("t0"),
        pl.col("t").max().alias("t1"),
        (pl.col(key).null_count() + pl.col("t").null_count()).alias("nulls"),
    ).row(0, named=True)
    if not coded or span["nulls"] or span["k1"] is None:
        return occurrences.sort(keys)
    time_bits = max(int(span["t1"] - span["t0"]).bit_length(), 1)
    if max(int(span["k1"]).bit_length(), 1) + time_bits > 64:
        return occurrences.sort(keys)
    packed = pl.col(key).to_physical().cast(pl.UInt64) * pl.lit(1 << time_bits, dtype=pl.UInt64) + (
        pl.col("t") - span["t0"]
    ).cast(pl.UInt64)
    return occurrences.sort(packed, pl.col("account"))


class _Pairing:
    """The row pairs of `windowed_pairs` in occurrences sorted by (key, t, account)."""

    def __init__(
        self,
        occ: pl.DataFrame,
        key: str,
        window_rows: int,
        max_gap_us: int | None,
        pair_budget: int | None = None,
    ) -> None:
        n = occ.height
        #: entity number of each row (0, 1, ... in key order): runs of one key value
        self.entity = occ.get_column(key).rle_id().to_numpy().astype(np.int64, copy=False)
        sizes = np.bincount(self.entity) if n else np.zeros(0, dtype=np.int64)
        ends = np.cumsum(sizes)
        # Rows left in the same entity after each row: row i can pair at lag L only if
        # remaining[i] >= L, so the candidate set shrinks with every lag and the total work is
        # the number of pairs produced, not len(occ) * window_rows.
        self.remaining = ends[self.entity] - np.arange(n) - 1 if n else np.zeros(0, np.int64)
        if pair_budget is not None and n:
            # an entity of k occurrences pairs each with its next max(1, budget // k) only
            lags = np.maximum(1, pair_budget // np.maximum(sizes, 1))
            self.remaining = np.minimum(self.remaining, lags[self.entity])
        self.account = occ.get_column("account").to_numpy()
        self.t = occ.get_column("t").to_numpy()
        self.window_rows = window_rows
        self.max_gap_us = max_gap_us

    def bound(self) -> int:
        """At most this many pairs (every row with its next ``window_rows``)."""
        return int(np.minimum(self.remaining, self.window_rows).sum())

    def blocks(self, block_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(earlier rows, later rows) in blocks of at most ``block_pairs``, lag by lag."""
        remaining, acc, t = self.remaining, self.account, self.t
        candidates = np.nonzero(remaining >= 1)[0]
        for lag in range(1, self.window_rows + 1):
            candidates = candidates[remaining[candidates] >= lag]
            if candidates.size == 0:
                break
            if self.max_gap_us is not None:
                # times are sorted inside an entity: once too far at this lag, too far at
                # every larger lag, so those rows stop being candidates
                candidates = candidates[(t[candidates + lag] - t[candidates]) <= self.max_gap_us]
            for start in range(0, candidates.size, block_pairs):
                earlier = candidates[start : start + block_pairs]
                later = earlier + lag
                keep = acc[earlier] != acc[later]
                yield earlier[keep], later[keep]

    def ends(self, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The accounts of each row pair as (src, dst), src < dst."""
        a, b = self.account[first], self.account[second]
        return np.minimum(a, b), np.maximum(a, b)


def _pair_key(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    return (src.astype(np.uint64) << np.uint64(32)) | dst.astype(np.uint64)


class _PairSink:
    """Pair rows (key, weight[, extra]) routed to hash partitions of their key; held in memory
    with one partition, spilled to a temporary folder of the work directory with more."""

    def __init__(self, partitions: int, work_dir: str | None) -> None:
        self.partitions = partitions
        self.bits = int(math.log2(partitions))
        self._memory: list[list[np.ndarray]] = [[] for _ in range(partitions)]
        self._spill: tempfile.TemporaryDirectory[str] | None = None
        self._files = [0] * partitions
        self._width = 2
        if partitions > 1:
            self._spill = spill_folder(work_dir)

    def add(self, key: np.ndarray, weight: np.ndarray, extra: np.ndarray | None) -> None:
        columns = [key, weight.astype(np.float64, copy=False).view(np.uint64)]
        if extra is not None:
            columns.append(extra.astype(np.uint64, copy=False))
        self._width = len(columns)
        if self._spill is None:
            # held as they came, a column each: concatenated once per column when drained
            # (no stacked copy of every block)
            self._memory[0].append(columns)
            return
        rows = np.stack(columns)
        part = (key * _GOLDEN) >> np.uint64(64 - self.bits)
        # a stable sort of small integers is a radix sort in numpy, and keeps each partition's
        # rows in the order they came
        part = part.astype(np.uint16 if self.bits <= 16 else np.int64)
        order = np.argsort(part, kind="stable")
        cuts = np.cumsum(np.bincount(part, minlength=self.partitions))[:-1]
        for p, chunk in enumerate(np.split(order, cuts)):
            if chunk.size:
                path = Path(self._spill.name) / f"p{p}-{self._files[p]:06d}.npy"
                np.save(path, rows[:, chunk])
                self._files[p] += 1

    def drain(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Each partition's (keys, weights, extras or None), rows in the order they came."""
        width = self._width
        for p in range(self.partitions):
            if self._spill is None:
                blocks, self._memory[p] = self._memory[p], []
                columns = [
                    np.concatenate([b[c] for b in blocks]) if blocks else np.zeros(0, np.uint64)
                    for c in range(width)
                ]
                del blocks
            else:
                names = [
                    Path(self._spill.name) / f"p{p}-{i:06d}.npy" for i in range(self._files[p])
                ]
                parts = [np.load(name) for name in names]
                for name in names:
                    name.unlink()
                rows = np.concatenate(parts, axis=1) if parts else np.zeros((width, 0), np.uint64)
                del parts
                columns = list(rows)
                del rows
            yield columns[0], columns[1].view(np.float64), columns[2] if width == 3 else None
            del columns

    def close(self) -> None:
        self._memory = [[] for _ in range(self.partitions)]
        if self._spill is not None:
            self._spill.cleanup()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def spill_folder(work_dir: str | None) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for spilled data in ``work_dir`` (None: the system's temporary
    directory), removed when the object is cleaned up or collected, and named after this
    process so that `remove_stale_spills` removes it if the process is killed."""
    return tempfile.TemporaryDirectory(prefix=f"{_SPILL_PREFIX}{os.getpid()}-", dir=work_dir)


def remove_stale_spills(work_dir: str | None) -> list[Path]:
    """Remove the spill folders that killed runs left in ``work_dir`` (None: the system's
    temporary directory): those whose owning process no longer exists. A live run's folder,
    this process's included, is left alone. Returns the folders removed."""
    root = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
    if not root.is_dir():
        return []
    removed = []
    for folder in sorted(root.glob(f"{_SPILL_PREFIX}*-*")):
        pid = folder.name[len(_SPILL_PREFIX) :].split("-", 1)[0]
        if not folder.is_dir() or not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _partitions(bound_pairs: int, local: LocalConfig) -> int:
    """The partition count: ``local.partitions``, or enough for each partition's pairs to fit
    in ``local.memory_budget_mib`` (a power of two)."""
    if local.partitions:
        wanted = local.partitions
    else:
        wanted = math.ceil(bound_pairs * _PAIR_BYTES / (local.memory_budget_mib * 2**20))
    return 1 << max(0, math.ceil(math.log2(max(wanted, 1))))


def _block_pairs(local: LocalConfig) -> int:
    """Pairs made at once: an eighth of the budget."""
    return max(1 << 16, local.memory_budget_mib * 2**20 // (8 * _PAIR_BYTES))


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    """A per-occurrence aggregate of the events, in Polars' streaming engine (bounded memory)."""
    return query.collect(engine="streaming")


def _run_lengths(values: np.ndarray) -> pl.Series:
    """For each row, the length of the run of equal ``values`` it is in (`pl.len().over` of a
    column whose equal values are contiguous), in Polars' index type as that count is."""
    if values.size == 0:
        return pl.Series(np.zeros(0, dtype=np.uint32)).cast(pl.get_index_type())
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, values.size])
    return pl.Series(np.repeat(lengths, lengths)).cast(pl.get_index_type())


def _drop_popular(engaged: pl.DataFrame, max_accounts: int | None) -> pl.DataFrame:
    """`_drop_crowded` of `_engaged` rows by target: its ``popularity`` is the count."""
    if max_accounts is None:
        return engaged
    return engaged.filter(pl.col("popularity") <= max_accounts)


def _drop_crowded(
    occ: pl.DataFrame, key: str, max_accounts: int | None, *, one_per_account: bool = False
) -> pl.DataFrame:
    """Skip entities used by more than ``max_accounts`` distinct accounts (None: keep all).
    The rows kept keep their order. ``one_per_account``: ``occ`` has one row per (key,
    account), so an entity's rows count its accounts (a window count, no distinct count)."""
    if max_accounts is None:
        return occ
    if one_per_account:
        return occ.filter(pl.len().over(key) <= max_accounts)
    crowd = occ.group_by(key).agg(pl.col("account").n_unique().alias("_crowd"))
    keep = crowd.filter(pl.col("_crowd") <= max_accounts).select(key)
    return occ.join(keep, on=key, how="semi")


def _project(
    occ: pl.DataFrame,
    key: str,
    cfg: RelationConfig,
    relation: str,
    local: LocalConfig | None,
    *,
    max_gap_us: int | None,
    weight: np.ndarray,
    smaller_end: bool = False,
    distinct: np.ndarray | None = None,
) -> pl.DataFrame:
    """Pair ``occ`` (sorted, `_sorted`) through ``key`` and aggregate per account pair.

    ``weight``: what each pair adds, by its earlier occurrence's row (``smaller_end``: the
    smaller of its two occurrences'). ``distinct``: pairs of the same accounts with the same
    value of it (by the earlier row) count once.
    """
    local = local or LocalConfig()
    pairing = _Pairing(occ, key, cfg.window_rows, max_gap_us, cfg.pair_budget)
    sink = _PairSink(_partitions(pairing.bound(), local), local.work_dir)
    try:
        for first, second in pairing.blocks(_block_pairs(local)):
            src, dst = pairing.ends(first, second)
            w = np.minimum(weight[first], weight[second]) if smaller_end else weight[first]
            sink.add(_pair_key(src, dst), w, None if distinct is None else distinct[first])
        del pairing
        parts = [
            _aggregate(keys, values, extras, cfg, relation) for keys, values, extras in sink.drain()
        ]
    finally:
        sink.close()  # a failure half-way still removes the spilled files
    if not parts:
        parts = [_aggregate(np.zeros(0, np.uint64), np.zeros(0), None, cfg, relation)]
    agg = pl.concat(parts)
    support = f"{relation}_support"
    if cfg.min_overlap > 0:
        own = occ.group_by("account").agg(pl.len().alias("_own"))
        agg = (
            agg.join(own.rename({"account": "src", "_own": "_own_src"}), on="src")
            .join(own.rename({"account": "dst", "_own": "_own_dst"}), on="dst")
            .filter(pl.col(support) >= cfg.min_overlap * pl.min_horizontal("_own_src", "_own_dst"))
            .drop("_own_src", "_own_dst")
        )
    return agg.sort("src", "dst")


def _halves(values: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """``values`` (UInt64: a high and a low 32-bit half, such as a pair key src << 32 | dst)
    as the two bit fields `_stable_order` sorts by, each as wide as its largest value needs."""
    if values.size == 0:
        return []
    high_bits = int(values.max() >> np.uint64(32)).bit_length()
    low_bits = int(np.bitwise_and(values, _LOW).max()).bit_length()
    fields = [(values, 32, high_bits)] if high_bits else []
    return fields + [(values, 0, max(low_bits, 1))]


def _stable_order(fields: list[tuple[np.ndarray, int, int]], n: int) -> np.ndarray:
    """The order of a stable sort of ``n`` rows by ``fields``, the most significant first: each
    ``(values, shift, bits)``, the field ``(values >> shift) & (2**bits - 1)`` of a UInt64
    column. Ties come in row order, as `numpy.argsort` with ``kind="stable"`` gives.

    Made of plain sorts of unique 64-bit values (numpy sorts those several times faster than
    it sorts stably or by two columns): each pass packs as many bits of the fields as fit above
    the row number, and the passes go from the least significant bits to the most (a radix
    sort whose passes are stable because the row number breaks ties): one pass where the
    fields and the row number fit in 64 bits together (pair keys of a few million accounts),
    two or three past that."""
    rows = max(n - 1, 1).bit_length()
    room = 64 - rows  # bits of key a pass can carry above the row number
    row_mask = np.uint64((1 << rows) - 1)
    digits = []  # (values, shift, bits): the fields cut to fit a pass, most significant first
    for values, shift, bits in fields:
        passes = -(-bits // room)
        step = -(-bits // passes)
        for low in range((passes - 1) * step, -1, -step):
            digits.append((values, shift + low, min(step, bits - low)))
    # digits that fit one pass together are packed side by side; the arithmetic is done in
    # place: on tens of millions of rows it costs more than the sort
    order: np.ndarray | None = None
    position = np.arange(n, dtype=np.uint64)
    packed = np.empty(n, dtype=np.uint64)
    digit = np.empty(n, dtype=np.uint64)
    while digits:
        packed[:] = position
        used = 0
        while digits and used + digits[-1][2] <= room:
            values, shift, bits = digits.pop()
            if order is None:
                np.right_shift(values, np.uint64(shift), out=digit)
            else:
                np.take(values, order, out=digit)
                np.right_shift(digit, np.uint64(shift), out=digit)
            np.bitwise_and(digit, np.uint64((1 << bits) - 1), out=digit)
            np.left_shift(digit, np.uint64(rows + used), out=digit)
            np.bitwise_or(packed, digit, out=packed)
            used += bits
        packed.sort()
        np.bitwise_and(packed, row_mask, out=packed)
        step_order = packed.view(np.int64)  # row numbers: below 2**63
        order = step_order.copy() if order is None else np.take(order, step_order)
    return order if order is not None else np.zeros(0, dtype=np.int64)


def _aggregate(
    key: np.ndarray,
    values: np.ndarray,
    distinct: np.ndarray | None,
    cfg: RelationConfig,
    relation: str,
) -> pl.DataFrame:
    """One partition's pair rows -> one row per account pair with enough support.

    The rows are sorted by key once (stably: a pair's rows keep the order they came in, so its
    weight is summed in that order), and each run of one key is one account pair: its length is
    the support, the sum of its weights the weight. A sort of integers is several times cheaper
    than hashing millions of mostly-unique keys into groups, and it is made of plain sorts of
    the packed keys and row numbers (`_stable_order`: one where they fit in 64 bits, as on a
    few million accounts, two or three past that), the order a stable sort gives.
    ``distinct``: rows of one key with the same value of it count once (the first); the rows
    are then sorted by key and that value.
    """
    support = f"{relation}_support"
    if distinct is not None:
        distinct = distinct.astype(np.uint64, copy=False)
    packed = _packed_order(key) if distinct is None else None
    if packed is not None:
        # one pass: the sorted packed keys are the sorted pair keys, no gather of them
        order, sorted_key, low_bits = packed
        del packed
        first = np.ones(key.size, dtype=bool)
        np.not_equal(sorted_key[1:], sorted_key[:-1], out=first[1:])
    else:
        fields = _halves(key) + ([] if distinct is None else _halves(distinct))
        order = _stable_order(fields, key.size)
        del fields
        sorted_key, low_bits = key[order], 32
        first = np.ones(sorted_key.size, dtype=bool)
        np.not_equal(sorted_key[1:], sorted_key[:-1], out=first[1:])
        if distinct is not None:
            seen = distinct[order]
            # the first row of each (key, distinct) run, the runs sorted inside each key
            kept = first.copy()
            np.not_equal(seen[1:], seen[:-1], out=kept[1:])
            kept |= first
            del seen
            sorted_key, order, first = sorted_key[kept], order[kept], first[kept]
            del kept
    starts = np.flatnonzero(first)
    del first
    counts = np.diff(starts, append=sorted_key.size)
    keep = counts >= cfg.min_support
    pair = sorted_key[starts[keep]]
    del sorted_key
    # only the rows of the pairs kept are summed (most pairs of a sparse relation occur
    # once and fall below min_support): their weights are gathered in sorted order, each
    # pair's in the order its rows came, so the sums are those of every row's in that order
    kept_counts = counts[keep]
    rows = order[np.repeat(keep, counts)] if not keep.all() else order
    del order, starts, counts
    weights = values[rows]
    del rows
    kept_starts = np.zeros(kept_counts.size, dtype=np.int64)
    np.cumsum(kept_counts[:-1], out=kept_starts[1:])
    sums = np.add.reduceat(weights, kept_starts) if kept_starts.size else np.zeros(0)
    low_mask = np.uint64((1 << low_bits) - 1)
    return pl.DataFrame(
        {
            "src": (pair >> np.uint64(low_bits)).astype(np.uint32),
            "dst": (pair & low_mask).astype(np.uint32),
            support: kept_counts.astype(np.uint32),
            # rounding keeps the last bits of float noise (sums of the same weights in another
            # order, as another engine may add them) out of Leiden's input
            f"{relation}_weight": pl.Series(sums).round(9),
        }
    )


def _packed_order(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """`_stable_order` of pair keys (src << 32 | dst) where src, dst and the row number fit
    in 64 bits together (pair keys of a few million accounts): one plain sort of
    (src, dst, row) packed in a UInt64. Returns the order, the sorted keys as (src << b |
    dst) and b (the bits of dst); None where they do not fit. Fewer passes over the rows
    than the general `_stable_order`, and the sorted keys come out of the sort itself."""
    n = key.size
    if n == 0:
        return None
    high_bits = int(key.max() >> np.uint64(32)).bit_length()
    low = np.bitwise_and(key, _LOW)
    low_bits = max(int(low.max()).bit_length(), 1)
    rows = max(n - 1, 1).bit_length()
    if high_bits + low_bits + rows > 64:
        return None
    packed = np.right_shift(key, np.uint64(32))
    np.left_shift(packed, np.uint64(low_bits + rows), out=packed)
    np.left_shift(low, np.uint64(rows), out=low)
    np.bitwise_or(packed, low, out=packed)
    low[:] = np.arange(n, dtype=np.uint64)
    np.bitwise_or(packed, low, out=packed)
    packed.sort()
    np.bitwise_and(packed, np.uint64((1 << rows) - 1), out=low)
    np.right_shift(packed, np.uint64(rows), out=packed)
    return low.view(np.int64), packed, low_bits


def device_pairs(
    events: pl.DataFrame, cfg: RelationConfig, local: LocalConfig | None = None
) -> pl.DataFrame:
    """Accounts that used the same device, at any time.

    Each shared device adds min(share of a's events on it, share of b's events on it): a family
    sharing a tablet for everything weighs as much as a farm, but a kiosk used for 5% of each
    visitor's events weighs little. Evidence elsewhere tells families from farms.
    """
    return _device_pairs(device_occurrences(events), events, cfg, local)


def device_occurrences(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (device, account): the account's first and last use of it (``t``,
    ``t_last``) and its events on it (``_n``). What the device relation pairs, and what the
    devices' use (`context.device_usage_of_accounts`) is counted from."""
    # lazy: only the columns each step reads are taken from the events, never a filtered copy
    return _collect(
        events.lazy()
        .filter(pl.col("device").is_not_null())
        .group_by("device", "account")
        .agg(pl.col("t").min(), pl.col("t").max().alias("t_last"), pl.len().alias("_n"))
    )


def _device_pairs(
    occ: pl.DataFrame, events: pl.DataFrame, cfg: RelationConfig, local: LocalConfig | None
) -> pl.DataFrame:
    """`device_pairs` from the events' `device_occurrences`."""
    # events per account index: a count by index, no group-by
    counts = np.bincount(events.get_column("account").to_numpy())
    per_account = pl.DataFrame(
        {
            "account": np.arange(counts.size, dtype=np.uint32),
            "_n_account": counts.astype(np.uint32),
        }
    )
    occ = (
        _drop_crowded(occ, "device", cfg.max_accounts, one_per_account=True)
        .join(per_account, on="account")
        .with_columns((pl.col("_n") / pl.col("_n_account")).alias("share"))
        .select("device", "account", "t", "share")
    )
    occ = _sorted(occ, "device")
    share = occ.get_column("share").to_numpy()
    return _project(
        occ, "device", cfg, "device", local, max_gap_us=None, weight=share, smaller_end=True
    )


def ip_pairs(
    events: pl.DataFrame, cfg: RelationConfig, local: LocalConfig | None = None
) -> pl.DataFrame:
    """Accounts seen on the same IP within ``max_gap`` (default one hour), in several hours.

    Time-aware: sharing within the same hour says far more than within the same month. Each
    shared (IP, hour) adds 1 / log2(1 + accounts on that IP in that hour), so a busy NAT hour is
    weak evidence; ``min_support`` asks for several distinct shared hours.
    """
    occ = _collect(
        events.lazy()
        .filter(pl.col("ip").is_not_null())
        .group_by("ip", "account", hour_key().alias("hour"))
        .agg(pl.col("t").min())
    )
    occ = _sorted(_drop_crowded(occ, "ip", cfg.max_accounts), "ip")
    gap = None if cfg.max_gap_s is None else int(cfg.max_gap_s * US)
    hour = occ.get_column("hour").to_numpy()
    ip = occ.get_column("ip").rle_id().to_numpy().astype(np.uint64)
    ip_hour = (ip << np.uint64(32)) | (hour - hour.min(initial=0)).astype(np.uint64)
    # accounts on each (IP, hour): one row each, and sorted by IP and time the rows of one
    # (IP, hour) are one run, so its length is the count (what a window count over (IP,
    # hour) gives, without hashing the rows)
    occ = occ.with_columns(_run_lengths(ip_hour).alias("crowd"))
    # each shared (IP, hour) weighs by the accounts on it, and counts once per pair (an
    # occurrence may pair with the next hour's): the earlier occurrence's
    weight = occ.select(1.0 / (1.0 + pl.col("crowd")).log(2)).to_series().to_numpy()
    return _project(occ, "ip", cfg, "ip", local, max_gap_us=gap, weight=weight, distinct=ip_hour)


def _engaged(events: pl.DataFrame, engagement_types: tuple[str, ...]) -> pl.DataFrame:
    """`engagements` with each target's ``popularity`` (its engaging accounts), sorted as they
    are paired (`_sorted` by target): what the sync and dense relations pair. Both take it
    from here, so it is sorted once."""
    # `engagements`, grouped on the codes
    occ = _sorted(_collect(engagements(events.lazy(), engagement_types)), "target")
    # one row per (target, account): a target's rows, one run once sorted, are its engaging
    # accounts (a window count over the target, without hashing the rows)
    target = occ.get_column("target").rle_id().to_numpy()
    return occ.with_columns(_run_lengths(target).alias("popularity"))


def _target_pairs(
    occ: pl.DataFrame,
    cfg: RelationConfig,
    gap: int | None,
    relation: str,
    local: LocalConfig | None,
) -> pl.DataFrame:
    """Pairs through shared targets, each adding 1 / log2(2 + the target's popularity).
    ``occ``: rows of `_engaged` (sorted), some targets perhaps dropped."""
    weight = occ.select(1.0 / (2.0 + pl.col("popularity")).log(2)).to_series().to_numpy()
    return _project(occ, "target", cfg, relation, local, max_gap_us=gap, weight=weight)


def sync_pairs(
    events: pl.DataFrame,
    cfg: RelationConfig,
    engagement_types: tuple[str, ...],
    local: LocalConfig | None = None,
    *,
    engaged: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Accounts that engaged the same targets within ``max_gap`` of each other, repeatedly.

    Each shared target adds 1 / log2(2 + its engaging accounts): a viral post liked by thousands
    within the hour ties strangers together only faintly, and such chance pairs rarely recur on
    a second target, which ``min_support`` requires. ``engaged``: `_engaged` of the events,
    when the caller has it already.
    """
    occ = _engaged(events, engagement_types) if engaged is None else engaged
    occ = _drop_popular(occ, cfg.max_accounts)
    gap = None if cfg.max_gap_s is None else int(cfg.max_gap_s * US)
    return _target_pairs(occ, cfg, gap, "sync", local)


def dense_pairs(
    events: pl.DataFrame,
    cfg: RelationConfig,
    engagement_types: tuple[str, ...],
    local: LocalConfig | None = None,
    *,
    engaged: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Accounts that keep engaging the same rarely-engaged targets, whenever they do it.

    The FRAUDAR-style relation: no time window; each shared target weighs 1 / log2(2 + its
    engaging accounts) (log-weighted popularity, as FRAUDAR's columns), and a target engaged
    by k accounts pairs each engagement with only the next max(1, ``cfg.pair_budget`` // k)
    in time (at most ``window_rows``), so a moderately popular target of a dense block is
    projected and a hub yields about k pairs, never k^2 (``cfg.max_accounts``, when set,
    still drops crowded targets outright).
    """
    occ = _engaged(events, engagement_types) if engaged is None else engaged
    occ = _drop_popular(occ, cfg.max_accounts)
    return _target_pairs(occ, cfg, None, "dense", local)


def dense_capped(cfg: GraphConfig, has_hardware: Callable[[], bool]) -> bool:
    """Whether ``graph.dense.max_accounts`` applies (``graph.dense_cap``): "auto" where the
    log has a device or an IP (``has_hardware``, asked only then)."""
    if cfg.dense_cap != "auto":
        return cfg.dense_cap == "always"
    return has_hardware()


@dataclass(frozen=True)
class EntityUse:
    """What the projections count of the whole log on the way that the evidence stage reads
    too (`community.evidence.EvidenceContext`), so that it need not scan the log again: each
    device's use (`context.device_usage` columns) and each target's reach
    (`context.target_reach`); None where no enabled relation made it."""

    device_use: pl.DataFrame | None = None
    target_reach: pl.DataFrame | None = None


def all_relations(
    events: pl.DataFrame,
    cfg: GraphConfig,
    local: LocalConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """Every enabled relation's pair table, keyed by relation name (``local``: how much
    memory pairing may hold, `LocalConfig`; ``progress`` is told each relation and its
    linked pairs)."""
    return relation_tables(events, cfg, local, progress)[0]


def relation_tables(
    events: pl.DataFrame,
    cfg: GraphConfig,
    local: LocalConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, pl.DataFrame], EntityUse]:
    """`all_relations`, and the `EntityUse` counted on the way.

    The hardware relations (device, ip) are paired on a second thread while the engagement
    relations (sync, then dense) are (numpy's sorts and Polars' queries release the GIL, and
    most of the pairing is single-threaded sorting), each side under half of
    ``local.memory_budget_mib``, so the budget still bounds what pairing holds at once. The
    tables are the same either way: no relation reads another's, and a relation's table does
    not depend on its budget."""
    local = local or LocalConfig()
    out: dict[str, pl.DataFrame] = {}
    stale = remove_stale_spills(local.work_dir)
    if stale and progress:
        progress(
            f"projections: removed {len(stale)} spill folder(s) a killed run left behind "
            f"({', '.join(str(folder) for folder in stale)})"
        )

    def done(name: str, table: pl.DataFrame) -> pl.DataFrame:
        if progress:
            progress(f"projections: {name}, {table.height:,} linked pairs")
        return table

    def hardware(budget: LocalConfig) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None]:
        tables: dict[str, pl.DataFrame] = {}
        use = None
        if cfg.device.enabled:
            on_device = device_occurrences(events)
            use = _collect(device_usage_of_accounts(on_device.lazy()))
            tables["device"] = done("device", _device_pairs(on_device, events, cfg.device, budget))
            del on_device
        if cfg.ip.enabled:
            tables["ip"] = done("ip", ip_pairs(events, cfg.ip, budget))
        return tables, use

    engagement = cfg.sync.enabled or cfg.dense.enabled
    has_hardware_relation = cfg.device.enabled or cfg.ip.enabled
    together = engagement and has_hardware_relation and local.memory_budget_mib >= 128
    shared = replace(local, memory_budget_mib=local.memory_budget_mib // 2) if together else local
    reach = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="projections") as pool:
        pending = pool.submit(hardware, shared) if together else None
        hardware_tables, device_use = ({}, None) if together else hardware(local)
        engaged = None
        if engagement:
            engaged = _engaged(events, cfg.engagement_types)
            reach = _collect(target_reach(engaged.lazy()))
        if cfg.sync.enabled:
            sync = sync_pairs(events, cfg.sync, cfg.engagement_types, shared, engaged=engaged)
            out["sync"] = done("sync", sync)
        if cfg.dense.enabled:
            dense = cfg.dense
            if not dense_capped(cfg, lambda: has_hardware(events)):
                dense = replace(dense, max_accounts=None, min_support=cfg.dense_uncapped_support)
            pairs = dense_pairs(events, dense, cfg.engagement_types, shared, engaged=engaged)
            out["dense"] = done("dense", pairs)
        del engaged
        if pending is not None:
            hardware_tables, device_use = pending.result()
    # the relations in their fixed order, whichever finished first
    ordered = {**hardware_tables, **out}
    return ordered, EntityUse(device_use=device_use, target_reach=reach)
