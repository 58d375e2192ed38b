"""Which 64-bit hashes lie within a Hamming radius of which: multi-index hashing, not all pairs.

Pigeonhole: cut each hash into m chunks; two hashes within distance r agree to within
floor(r / m) bits on at least one chunk. Each chunk of the stored hashes is sorted once; every
query chunk, with each way of flipping up to floor(r / m) of its bits, is looked up by binary
search (a direct bucket table for chunks of up to 24 bits), and only those candidates are
compared in full. The number of chunks is chosen so that
chunks are about log2(n) bits wide, which keeps both the lookups and the false candidates
near-linear in n (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index
Hashing", CVPR 2012).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

_MAX_PAIRS_PER_STEP = 4_000_000  # bounds memory while expanding one lookup's matches
_TABLE_BITS = 24  # chunks up to this width get a bucket table (2**24 int32 = 64 MiB at most)


def popcount(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values).astype(np.int64)


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    masks = [0]
    for k in range(1, radius + 1):
        for positions in combinations(range(bits), k):
            masks.append(sum(1 << p for p in positions))
    return np.array(masks, dtype=np.uint64)


def _chunk_bounds(chunks: int, total: int = 64) -> list[tuple[int, int]]:
    """(shift, width) of each chunk, widths differing by at most one bit."""
    bounds, shift = [], 0
    for i in range(chunks):
        width = total // chunks + (1 if i < total % chunks else 0)
        bounds.append((shift, width))
        shift += width
    return bounds


def _choose_chunks(n_items: int, n_queries: int, radius: int) -> int:
    """The chunk count with the least estimated work (lookups plus expected false candidates)."""
    best, best_cost = 1, math.inf
    for m in range(1, 17):
        if radius // m > 4 and m < 16:
            continue  # too many flip masks per chunk; more chunks are always cheaper here
        cost = 0.0
        for _, width in _chunk_bounds(m):
            masks = sum(math.comb(width, k) for k in range(radius // m + 1))
            lookup = 1.0 if width <= _TABLE_BITS else math.log2(max(n_items, 2)) / 4
            cost += masks * n_queries * (lookup + n_items / 2.0**width)
        if cost < best_cost:
            best, best_cost = m, cost
    return best


def pairs_within(queries: np.ndarray, items: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query index, item index, distance) with Hamming distance <= radius.

    `queries` and `items` are uint64 arrays. Each pair appears once.
    """
    queries = np.ascontiguousarray(queries, dtype=np.uint64)
    items = np.ascontiguousarray(items, dtype=np.uint64)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    if len(queries) == 0 or len(items) == 0:
        return empty
    found_q: list[np.ndarray] = []
    found_i: list[np.ndarray] = []
    chunks = _choose_chunks(len(items), len(queries), radius)
    sub_radius = radius // chunks
    for shift, width in _chunk_bounds(chunks):
        low = np.uint64((1 << width) - 1)
        item_keys = (items >> np.uint64(shift)) & low
        order = np.argsort(item_keys, kind="stable")
        sorted_keys = item_keys[order]
        query_keys = (queries >> np.uint64(shift)) & low
        table = _bucket_table(sorted_keys, width) if width <= _TABLE_BITS else None
        for mask in _flip_masks(width, sub_radius):
            wanted = query_keys ^ mask
            if table is not None:
                lo = table[wanted.astype(np.int64)]
                hi = table[wanted.astype(np.int64) + 1]
            else:
                lo = np.searchsorted(sorted_keys, wanted, side="left")
                hi = np.searchsorted(sorted_keys, wanted, side="right")
            hit = np.nonzero(hi > lo)[0]
            if len(hit):
                _expand(hit, lo[hit], hi[hit], order, queries, items, radius, found_q, found_i)
    if not found_q:
        return empty
    q = np.concatenate(found_q)
    i = np.concatenate(found_i)
    # The same pair can be found through several chunks; keep one.
    key = np.unique(q * np.int64(len(items)) + i)
    q, i = key // len(items), key % len(items)
    return q, i, popcount(queries[q] ^ items[i])


def _bucket_table(sorted_keys: np.ndarray, width: int) -> np.ndarray:
    """starts[k]..starts[k+1] is the range of key k in the sorted keys."""
    counts = np.bincount(sorted_keys.astype(np.int64), minlength=1 << width)
    starts = np.zeros((1 << width) + 1, dtype=np.int64 if len(sorted_keys) >= 2**31 else np.int32)
    np.cumsum(counts, out=starts[1:])
    return starts


def _expand(
    hit: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    order: np.ndarray,
    queries: np.ndarray,
    items: np.ndarray,
    radius: int,
    found_q: list[np.ndarray],
    found_i: list[np.ndarray],
) -> None:
    """Turn bucket ranges into candidate pairs, in slices of bounded size, keeping true matches."""
    counts = hi - lo
    ends = np.cumsum(counts)
    start = 0
    while start < len(hit):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + _MAX_PAIRS_PER_STEP, side="right"))
        stop = max(stop, start + 1)
        c = counts[start:stop]
        q = np.repeat(hit[start:stop], c)
        offsets = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        it = order[np.repeat(lo[start:stop], c) + offsets]
        keep = popcount(queries[q] ^ items[it]) <= radius
        found_q.append(q[keep].astype(np.int64))
        found_i.append(it[keep].astype(np.int64))
        start = stop


def brute_force_pairs(queries: np.ndarray, items: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All-pairs reference for tests and tiny inputs."""
    d = popcount(queries[:, None] ^ items[None, :])
    q, i = np.nonzero(d <= radius)
    return q.astype(np.int64), i.astype(np.int64), d[q, i]
