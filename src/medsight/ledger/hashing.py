"""RFC 9162 section 2.1.1 hashing: the Merkle Tree Hash of any number of leaves.

A leaf hashes as ``SHA-256(0x00 || entry)`` and an interior node as
``SHA-256(0x01 || left || right)``; the two prefixes keep a leaf from ever passing for
a node (a second-preimage attack on the tree). A tree of ``n`` leaves splits at ``k``,
the largest power of two smaller than ``n``: the left subtree is always *perfect*
(``2**level`` leaves, starting at a multiple of its size), and so is every subtree
this module names by a :data:`NodeKey`. Any range of leaves that RFC 9162's recursion
visits is a run of perfect subtrees of decreasing size (:func:`perfect_subtrees`), and
its hash is their right fold (:func:`fold`): that is what lets the stores keep only the
``2n`` perfect nodes and still answer any proof with a few dozen look-ups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "NodeKey",
    "fold",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root_of",
    "split_point",
]

HASH_SIZE = 32

#: The hash of the empty tree (RFC 9162 section 2.1.1: SHA-256 of the empty string).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: A perfect subtree: ``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``.
NodeKey = tuple[int, int]

_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves does not split")
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees that tile leaves ``[start, end)``, left to right.

    Each one is the largest aligned power of two that fits; for the ranges RFC 9162's
    recursion produces (``start`` a multiple of a power of two at least ``end - start``
    rounded down) their sizes strictly decrease, so :func:`fold` gives the range's hash.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else 63
        while (1 << level) > end - start:
            level -= 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its perfect subtrees, largest first: ``H(p1, H(p2, ...))``."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes, straight from RFC 9162's recursive definition.

    Used as the reference in tests and for small trees; the stores never call it.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))
