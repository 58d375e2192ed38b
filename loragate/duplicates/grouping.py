"""From signatures to groups: exact copies by pixel digest, near copies by hash distance.

Exact groups hold files with the same pixels. Near groups join pictures whose hashes are within
NEAR_RADIUS bits (full frame against every crop of the other, both ways, and mirrored when
asked) and whose thumbnails, aligned by the matching crop, correlate; closed under "is near to" with union-find, so a chain A~B~C is one group of three.
Exact copies are searched once: a near group lists every file of the exact groups it touches.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from loragate.duplicates.group import DuplicateGroup
from loragate.duplicates.index import pairs_within
from loragate.duplicates.signature import ImageSignature, correlation, thumb_array

# Bits of 64 that may differ between a picture and a resized / re-encoded / cropped /
# re-lit copy of it. Measured on the planted set in benchmarks/bench_audit.py; unrelated
# pictures sit at 20+ bits against their closest crop.
NEAR_RADIUS = 10
# Hash matches are confirmed on the 32x32 thumbnails (after the matching crop): copies correlate
# at 0.9+, unrelated pictures whose hashes collide much lower (same measurement).
MIN_CORRELATION = 0.85
MAX_CHECKS_PER_PAIR = 4


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            groups[self.find(i)].append(i)
        return groups


def exact_groups(signatures: dict[str, ImageSignature]) -> list[list[str]]:
    """Paths sharing a pixel digest, two or more to a group, each sorted."""
    by_digest: dict[str, list[str]] = defaultdict(list)
    for path, sig in signatures.items():
        by_digest[sig.digest].append(path)
    return sorted(sorted(paths) for paths in by_digest.values() if len(paths) > 1)


def near_links(
    sigs: list[ImageSignature], mirror: bool = False, radius: int = NEAR_RADIUS
) -> list[tuple[int, int, int, bool]]:
    """(a, b, distance, mirrored) for every pair of pictures a < b that match: a full-frame hash
    within `radius` of one of the other's crop hashes (either way round; mirrored too when asked),
    confirmed by thumbnail correlation >= MIN_CORRELATION."""
    if len(sigs) < 2:
        return []
    crops = np.stack([s.hashes() for s in sigs])
    k = crops.shape[1]
    searches = [(crops[:, 0].copy(), False)]
    if mirror:
        searches.append((np.array([int(s.phash_mirror, 16) for s in sigs], dtype=np.uint64), True))
    candidates: list[tuple[int, bool, int, int, int]] = []  # (distance, mirrored, query, item, crop)
    for queries, is_mirror in searches:
        q, i, d = pairs_within(queries, crops.reshape(-1), radius)
        for qa, item, dist in zip(q.tolist(), i.tolist(), d.tolist()):
            owner = item // k
            if owner != qa:
                candidates.append((dist, is_mirror, qa, owner, item % k))
    thumbs: dict[int, np.ndarray] = {}

    def thumb(n: int) -> np.ndarray:
        if n not in thumbs:
            thumbs[n] = thumb_array(sigs[n])
        return thumbs[n]

    best: dict[tuple[int, int], tuple[int, bool]] = {}
    tried: dict[tuple[int, int], int] = defaultdict(int)
    for dist, is_mirror, qa, owner, crop in sorted(candidates):
        key = (min(qa, owner), max(qa, owner))
        if key in best or tried[key] >= MAX_CHECKS_PER_PAIR:
            continue
        tried[key] += 1
        if correlation(thumb(qa), thumb(owner), crop, is_mirror) >= MIN_CORRELATION:
            best[key] = (dist, is_mirror)
    return sorted((a, b, dist, m) for (a, b), (dist, m) in best.items())


def group_images(
    signatures: dict[str, ImageSignature], mirror: bool = False, radius: int = NEAR_RADIUS
) -> list[DuplicateGroup]:
    """Exact groups first, then near groups, each list sorted by its first path."""
    exact = exact_groups(signatures)
    groups = [DuplicateGroup(kind="exact", paths=paths, distance=0) for paths in exact]

    # One representative per exact group: copies need no second search.
    members: dict[str, list[str]] = {paths[0]: paths for paths in exact}
    copies = {p for paths in exact for p in paths[1:]}
    reps = sorted(p for p in signatures if p not in copies)
    if len(reps) < 2:
        return groups
    uf = UnionFind(len(reps))
    links = near_links([signatures[p] for p in reps], mirror, radius)
    for a, b, _, _ in links:
        uf.union(a, b)
    worst: dict[int, int] = defaultdict(int)
    any_mirror: dict[int, bool] = defaultdict(bool)
    for a, b, dist, is_mirror in links:
        root = uf.find(a)
        worst[root] = max(worst[root], dist)
        any_mirror[root] = any_mirror[root] or is_mirror
    near: list[DuplicateGroup] = []
    for root, idx in uf.components().items():
        if len(idx) < 2:
            continue
        paths = sorted(p for i in idx for p in members.get(reps[i], [reps[i]]))
        near.append(DuplicateGroup(kind="near", paths=paths, distance=worst[root], mirrored=any_mirror[root]))
    return groups + sorted(near, key=lambda g: g.paths)
