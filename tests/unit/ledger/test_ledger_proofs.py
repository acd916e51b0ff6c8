"""RFC 9162 hashing and proofs: the Certificate Transparency vectors, a naive reference tree, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsight.ledger.hashing import EMPTY_ROOT, fold, leaf_hash, node_hash, perfect_subtrees, root_of, split_point
from medsight.ledger.proofs import (
    consistency_ranges,
    inclusion_ranges,
    prove,
    verify_consistency,
    verify_inclusion,
)

# The 8-leaf test tree of certificate-transparency-go / transparency-dev/merkle (testonly), RFC 6962 hashing.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
CT_CONSISTENCY = [
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


class Reference:
    """The naive tree: every hash straight from RFC 9162's recursive definitions, nothing stored."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.hashes = [leaf_hash(x) for x in leaves]

    def mth(self, start: int, end: int) -> bytes:
        return root_of(self.hashes[start:end])

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = split_point(end - start)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = split_point(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def lookup(self, keys):  # type: ignore[no-untyped-def]
        return {(lv, i): self.mth(i << lv, (i + 1) << lv) for lv, i in keys}


CT = Reference(CT_LEAVES)
BIG = Reference([hashlib.sha256(str(i).encode()).digest()[: i % 7] for i in range(300)])


def test_roots_match_the_ct_vectors() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    for n in range(9):
        assert root_of(CT.hashes[:n]).hex() == CT_ROOTS[n]


def test_prefixes_are_rfc9162s() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    got = prove(inclusion_ranges(index, size), CT.lookup)
    assert [p.hex() for p in got] == proof
    assert verify_inclusion(index, size, CT.hashes[index], got, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    got = prove(consistency_ranges(old, new), CT.lookup)
    assert [p.hex() for p in got] == proof
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), got)


@pytest.mark.parametrize(("n", "k"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512), (2**40 + 1, 2**40)])
def test_split_is_the_largest_power_of_two_below(n: int, k: int) -> None:
    assert split_point(n) == k


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_matches_the_reference_and_verifies(case: tuple[int, int]) -> None:
    size, index = case
    proof = prove(inclusion_ranges(index, size), BIG.lookup)
    assert proof == BIG.path(index, 0, size)
    root = BIG.mth(0, size)
    assert verify_inclusion(index, size, BIG.hashes[index], proof, root)
    # Anything else is refused: another leaf, index or root, a flipped bit, a shorter or longer path.
    assert not verify_inclusion(index, size, BIG.hashes[(index + 1) % 300], proof, root) or size == 1
    assert not verify_inclusion(index, size, BIG.hashes[index], proof, BIG.mth(0, size - 1)) or size == 1
    if proof:
        bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        assert not verify_inclusion(index, size, BIG.hashes[index], bad, root)
        assert not verify_inclusion(index, size, BIG.hashes[index], proof[:-1], root)
        assert not verify_inclusion(index ^ 1, size, BIG.hashes[index], proof, root) or index ^ 1 >= size
    assert not verify_inclusion(index, size, BIG.hashes[index], [*proof, root], root)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_consistency_matches_the_reference_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    proof = prove(consistency_ranges(old, new), BIG.lookup)
    if 0 < old < new:
        assert proof == BIG.subproof(old, 0, new, True)
    old_root, new_root = BIG.mth(0, old), BIG.mth(0, new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        other = BIG.mth(0, old - 1) if old > 1 else leaf_hash(b"forged")
        assert not verify_consistency(old, new, other, new_root, proof)
        assert not verify_consistency(old, new, old_root, BIG.mth(0, new - 1), proof)
    if proof:
        bad = [*proof[:-1], bytes([proof[-1][0] ^ 0x80]) + proof[-1][1:]]
        assert not verify_consistency(old, new, old_root, new_root, bad)
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])


def test_every_pair_up_to_64_is_consistent() -> None:
    for new in range(65):
        for old in range(new + 1):
            proof = prove(consistency_ranges(old, new), BIG.lookup)
            assert verify_consistency(old, new, BIG.mth(0, old), BIG.mth(0, new), proof), (old, new)


@pytest.mark.parametrize(("start", "end"), [(0, 1), (0, 7), (8, 13), (4, 8), (0, 300), (256, 300)])
def test_perfect_subtrees_tile_a_range(start: int, end: int) -> None:
    keys = perfect_subtrees(start, end)
    covered = [i for lv, ix in keys for i in range(ix << lv, (ix + 1) << lv)]
    assert covered == list(range(start, end))
    assert fold([BIG.mth(ix << lv, (ix + 1) << lv) for lv, ix in keys]) == BIG.mth(start, end)


def test_degenerate_cases() -> None:
    root8 = bytes.fromhex(CT_ROOTS[8])
    assert verify_consistency(4, 4, CT.mth(0, 4), CT.mth(0, 4), [])
    assert not verify_consistency(4, 4, CT.mth(0, 4), root8, [])
    assert verify_consistency(0, 8, EMPTY_ROOT, root8, [])
    assert not verify_consistency(6, 8, CT.mth(0, 6), root8, [])
    assert not verify_consistency(8, 6, root8, CT.mth(0, 6), [])
    assert not verify_inclusion(8, 8, CT.hashes[5], [], root8)
    assert not verify_inclusion(5, 8, CT.hashes[5][:31], prove(inclusion_ranges(5, 8), CT.lookup), root8)
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_ranges(8, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_ranges(5, 3)
