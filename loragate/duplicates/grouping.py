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
from loragate.duplicates.signature import CROP_BOXES, ImageSignature, correlation, edge_correlation, thumb_array

CROP_COUNT = len(CROP_BOXES)

# Bits of 64 that may differ between a picture and a resized / re-encoded / cropped /
# re-lit copy of it. Measured on the planted set in benchmarks/bench_audit.py; unrelated
# pictures sit at 20+ bits against their closest crop.
NEAR_RADIUS = 10
# Hash matches are confirmed on the 32x32 thumbnails (after the matching crop): copies correlate
# at 0.9+, unrelated pictures whose hashes collide much lower (same measurement). Look-alikes (a
# painter's series, crops of one photo) correlate up to 0.94 as well, but their edges do not: below
# SURE_CORRELATION the edges must agree too. Measured with benchmarks/bench_duplicates.py
# (look-alikes: edges <= 0.83) and the planted set of bench_audit.py (copies: edges >= 0.85).
MIN_CORRELATION = 0.85
SURE_CORRELATION = 0.97
MIN_EDGE_CORRELATION = 0.84


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
    checked: set[tuple[int, int, bool]] = set()
    for dist, is_mirror, qa, owner, _ in sorted(candidates):
        key = (min(qa, owner), max(qa, owner))
        if key in best or (qa, owner, is_mirror) in checked:
            continue
        checked.add((qa, owner, is_mirror))
        if confirmed(thumb(qa), thumb(owner), is_mirror):
            best[key] = (dist, is_mirror)
    return sorted((a, b, dist, m) for (a, b), (dist, m) in best.items())


def confirmed(query: np.ndarray, item: np.ndarray, mirrored: bool) -> bool:
    """The thumbnails agree at their best alignment: plainly (same picture whatever its brightness),
    or well enough and in their edges too (a look-alike of the same palette fails on its edges)."""
    plain, crop = max((correlation(query, item, c, mirrored), c) for c in range(CROP_COUNT))
    if plain >= SURE_CORRELATION:
        return True
    return plain >= MIN_CORRELATION and edge_correlation(query, item, crop, mirrored) >= MIN_EDGE_CORRELATION


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
    links = near_links([signatures[p] for p in reps], mirror, radius)
    near: list[DuplicateGroup] = []
    for idx, group_links in cliques(len(reps), links):
        paths = sorted(p for i in idx for p in members.get(reps[i], [reps[i]]))
        near.append(DuplicateGroup(kind="near", paths=paths, distance=max(d for _, _, d, _ in group_links),
                                   mirrored=any(m for _, _, _, m in group_links)))
    return groups + sorted(near, key=lambda g: g.paths)


def cliques(count: int, links: list[tuple[int, int, int, bool]]) -> list[tuple[list[int], list[tuple[int, int, int, bool]]]]:
    """Groups in which every picture matches every other one directly.

    "Is near to" does not chain: crop A of a photo matches the slightly shifted crop B, B matches C,
    yet A and C are different pictures to an artist. Within each connected set, the picture with
    the most matches starts a group and takes every picture that matches all of its members; the
    rest start groups of their own.
    """
    uf = UnionFind(count)
    linked: dict[int, set[int]] = defaultdict(set)
    for a, b, _, _ in links:
        uf.union(a, b)
        linked[a].add(b)
        linked[b].add(a)
    out = []
    for component in uf.components().values():
        left = sorted(component, key=lambda i: (-len(linked[i]), i))
        while len(left) > 1:
            members = [left[0]]
            for i in left[1:]:
                if all(i in linked[m] for m in members):
                    members.append(i)
            left = [i for i in left if i not in members]
            if len(members) > 1:
                chosen = set(members)
                out.append((sorted(members), [link for link in links if link[0] in chosen and link[1] in chosen]))
    return out
