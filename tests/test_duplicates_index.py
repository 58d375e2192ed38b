"""The multi-index search returns exactly what comparing every pair would."""

from __future__ import annotations

import numpy as np
import pytest

from loragate.duplicates.index import brute_force_pairs, pairs_within


def _near_copies(rng: np.random.Generator, base: np.ndarray, max_flips: int) -> np.ndarray:
    out = base.copy()
    for k in range(len(out)):
        for bit in rng.choice(64, size=int(rng.integers(0, max_flips + 1)), replace=False):
            out[k] ^= np.uint64(1) << np.uint64(int(bit))
    return out


@pytest.mark.parametrize(("n_items", "n_queries", "radius"), [(5000, 800, 10), (3000, 500, 4), (50, 50, 0), (400, 300, 20)])
def test_index_matches_brute_force(n_items: int, n_queries: int, radius: int) -> None:
    rng = np.random.default_rng(n_items + radius)
    items = rng.integers(0, np.iinfo(np.uint64).max, size=n_items, dtype=np.uint64, endpoint=True)
    queries = _near_copies(rng, items[rng.choice(n_items, n_queries)], radius + 2)
    got = pairs_within(queries, items, radius)
    want = brute_force_pairs(queries, items, radius)
    as_set = lambda r: set(zip(*(a.tolist() for a in r)))  # noqa: E731
    assert len(want[0]) > n_queries // 5  # the planted neighbours are there to be found
    assert as_set(got) == as_set(want)


def test_duplicate_items_and_empty_inputs() -> None:
    items = np.array([7, 7, 7, 2**63], dtype=np.uint64)
    q, i, d = pairs_within(np.array([7], dtype=np.uint64), items, 1)
    assert sorted(i.tolist()) == [0, 1, 2] and d.tolist() == [0, 0, 0]
    assert all(len(a) == 0 for a in pairs_within(np.empty(0, np.uint64), items, 5))
