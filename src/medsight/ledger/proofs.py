"""Inclusion and consistency proofs, RFC 9162 sections 2.1.3 and 2.1.4.

Generation follows the RFC's recursive definitions (``PATH`` and ``SUBPROOF``) written
as loops that name, for each proof element, the range of leaves whose hash it is
(:func:`inclusion_ranges`, :func:`consistency_ranges`); a store turns ranges into
hashes with :func:`prove`, in one batched look-up of perfect subtrees. Verification is
the RFC's own algorithm (sections 2.1.3.2 and 2.1.4.2), step for step, and uses
nothing but the proof, the sizes and the roots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from medsight.ledger.hashing import EMPTY_ROOT, HASH_SIZE, NodeKey, fold, node_hash, perfect_subtrees, split_point

__all__ = [
    "NodeLookup",
    "consistency_ranges",
    "inclusion_ranges",
    "prove",
    "verify_consistency",
    "verify_inclusion",
]

#: Look up perfect-subtree hashes by key, all at once (a store answers with one query).
NodeLookup = Callable[[Iterable[NodeKey]], Mapping[NodeKey, bytes]]

Range = tuple[int, int]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose hashes make ``PATH(index, D[size])``, from the leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose hashes make ``PROOF(old, D[new])``, deepest first."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    ranges: list[Range] = []
    start, end, whole = 0, new, True
    while old - start != end - start:
        k = split_point(end - start)
        if old - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    if not whole:
        # SUBPROOF(m, D[0:m], false) = [MTH(D[0:m])]: the old tree is a subtree here.
        ranges.append((start, end))
    return ranges[::-1]


def prove(ranges: Sequence[Range], lookup: NodeLookup) -> list[bytes]:
    """The hashes of ``ranges``, from the perfect subtrees a store keeps."""
    tiles = [perfect_subtrees(a, b) for a, b in ranges]
    found = lookup({key for keys in tiles for key in keys})
    try:
        return [fold([found[key] for key in keys]) for keys in tiles]
    except KeyError as exc:
        raise LookupError(f"the store lacks node {exc.args[0]}") from None


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while not fn & 1 and fn != 0:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` put ``leaf`` at ``index`` of the tree with ``root``?"""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof) or len(leaf) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of ``old_root`` a prefix of the tree of ``new_root``?

    The two cases the RFC leaves to the caller: equal sizes need an empty proof and equal
    roots; an empty old tree is a prefix of anything (its root is the empty hash).
    """
    if not 0 <= old <= new or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
