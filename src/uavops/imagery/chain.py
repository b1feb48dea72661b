"""Matching all overlapping pairs cheaply: a spanning tree first, the rest guided through it.

Finding how two photos sit relative to each other without trusting the recorded heading (pose-free
ratio-test matching of thousands of ORB descriptors) is most of the matching cost. A survey's
overlap graph has far more pairs than photos (each photo overlaps 4-8 others), but once the pairs
of a spanning tree are matched, every other pair's relative transform follows from chaining
similarities fitted to the matched pairs' ties along a short path, which is close enough to start
guided matching.
So only about one pair per photo pays for the pose-free search; the others are guided from the
chain, and fall back to the pose-free search only when the chained guess does not hold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from .features import PairMatch

__all__ = ["match_pairs_chained", "spanning_pairs", "chain_hint", "pair_similarity"]

MAX_CHAIN_HOPS = 4


def spanning_pairs(pairs: list[tuple[int, int]], centres: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of a minimum spanning forest (Kruskal on the distance between footprint centres)."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    tree = []
    for a, b in sorted(pairs, key=lambda ab: float(np.linalg.norm(centres[ab[0]] - centres[ab[1]]))):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            tree.append((a, b))
    return tree


def adjacency(edges: dict[tuple[int, int], np.ndarray]) -> dict[int, list[int]]:
    adj: dict[int, list[int]] = {}
    for i, j in edges:
        adj.setdefault(i, []).append(j)
        adj.setdefault(j, []).append(i)
    return adj


def chain_hint(a: int, b: int, sims: dict[tuple[int, int], np.ndarray], max_hops: int = MAX_CHAIN_HOPS,
               adj: dict[int, list[int]] | None = None) -> np.ndarray | None:
    """Pixel-of-a → pixel-of-b transform: the similarities of matched pairs (``sims[(i, j)]`` maps
    pixels of i to pixels of j) composed along the shortest path, or None beyond ``max_hops``."""
    if adj is None:
        adj = adjacency(sims)
    if a not in adj or b not in adj:
        return None
    prev: dict[int, int] = {a: a}
    depth = {a: 0}
    queue = deque([a])
    while queue:
        x = queue.popleft()
        if x == b or depth[x] >= max_hops:
            continue
        for y in adj[x]:
            if y not in prev:
                prev[y] = x
                depth[y] = depth[x] + 1
                queue.append(y)
    if b not in prev:
        return None
    node = b
    path = [b]
    while node != a:
        node = prev[node]
        path.append(node)
    path.reverse()
    h = np.eye(3)
    for x, y in pairwise(path):
        h = (sims[(x, y)] if (x, y) in sims else np.linalg.inv(sims[(y, x)])) @ h
    return h / h[2, 2]


def pair_similarity(m: PairMatch) -> np.ndarray:
    """Least-squares similarity through a pair's ties (pixel of i → pixel of j).

    Not the pair's homography: fitted on the overlap only (with tree-top parallax), its perspective
    terms can throw points far off outside the overlap, and a chain extrapolates by construction.
    A near-nadir pair is a similarity to within a few pixels.
    """
    import cv2

    a, _ = cv2.estimateAffinePartial2D(m.pts_i, m.pts_j, method=cv2.LMEDS)
    return np.vstack([a, [0.0, 0.0, 1.0]]) if a is not None else m.h_ij


def match_pairs_chained(pairs: list[tuple[int, int]], centres: np.ndarray,
                        match: Callable[..., PairMatch | None], threads: int = 2,
                        on_pair: Callable[[], None] | None = None,
                        stats: dict[str, int] | None = None) -> list[PairMatch]:
    """Match ``pairs`` with ``match(pair, hint=None)``; returns the pairs that matched.

    Round 1 matches a spanning forest pose-free; round 2 matches the other pairs guided by a hint
    chained through round 1's matches (pose-free when no chain reaches, or when the hinted match
    fails). The result does not depend on thread timing: hints come only from completed rounds.
    ``stats``, when given, receives how many pairs each way tried and matched (for the quality report:
    a survey whose pairs mostly need the pose-free search has headings or overlaps to look at).
    """
    counts = {"pose_free_tried": 0, "pose_free_matched": 0, "guided_tried": 0, "guided_matched": 0}
    done: dict[tuple[int, int], PairMatch] = {}
    sims: dict[tuple[int, int], np.ndarray] = {}
    tree = spanning_pairs(pairs, centres)
    tree_set = set(tree)
    rest = [p for p in pairs if p not in tree_set]

    def run(jobs: list[tuple[tuple[int, int], np.ndarray | None]]) -> list[tuple[tuple[int, int], PairMatch | None]]:
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            return list(pool.map(lambda job: (job[0], match(job[0], hint=job[1])), jobs))

    for ab, m in run([(p, None) for p in tree]):
        counts["pose_free_tried"] += 1
        if m is not None:
            done[ab] = m
            counts["pose_free_matched"] += 1
        if on_pair:
            on_pair()
    # guided rounds: each round's matches give later rounds shorter chains
    tried_hint: set[tuple[int, int]] = set()
    retry: list[tuple[int, int]] = []
    while True:
        for ab, m in done.items():
            if ab not in sims:
                sims[ab] = pair_similarity(m)
        adj = adjacency(sims)
        jobs = []
        for p in rest:
            if p in done or p in tried_hint:
                continue
            hint = chain_hint(p[0], p[1], sims, adj=adj)
            if hint is not None:
                jobs.append((p, hint))
        if not jobs:
            break
        for ab, m in run(jobs):
            tried_hint.add(ab)
            counts["guided_tried"] += 1
            if m is not None:
                done[ab] = m
                counts["guided_matched"] += 1
            else:
                retry.append(ab)
            if on_pair:
                on_pair()
    # pose-free for pairs no chain reaches; a pair whose chained guess did not hold is nearly always
    # one with too little overlap (measured on Brighton: 9 of 12 then fail pose-free too, at 10x the
    # cost), so it is retried only when one of its photos would otherwise keep fewer than two ties
    degree: dict[int, int] = {}
    for i, j in done:
        degree[i] = degree.get(i, 0) + 1
        degree[j] = degree.get(j, 0) + 1
    needed = [p for p in retry if min(degree.get(p[0], 0), degree.get(p[1], 0)) < 2]
    free = [p for p in rest if p not in tried_hint] + needed
    for ab, m in run([(p, None) for p in free]):
        counts["pose_free_tried"] += 1
        if m is not None:
            done[ab] = m
            counts["pose_free_matched"] += 1
        if on_pair and ab not in tried_hint:
            on_pair()
    if stats is not None:
        stats.update(counts)
    return [done[p] for p in pairs if p in done]
