"""Full verification of a stored log: recompute everything, trust nothing stored.

One pass over the entries in index order, in chunks: each entry must sit at the next
index and decode canonically; its leaf hash and every node it closes are recomputed
and compared with the stored ones (a stored node that differs would make proofs lie);
at each signed head's size the recomputed root must equal the signed root, and every
signature must verify. A saved checkpoint (a signed head kept elsewhere) catches what
no internal check can: the whole database rolled back or rewritten consistently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medsight.ledger.entry import Entry, EntryFormatError
from medsight.ledger.hashing import NodeKey, fold, leaf_hash
from medsight.ledger.log import Frontier, extend
from medsight.ledger.storage import LedgerStorage
from medsight.ledger.treehead import PublicKey, SignedTreeHead

__all__ = ["VerifyReport", "verify_log"]

_CHUNK = 4096


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_log`: ``ok``, or the problems found and the first bad entry."""

    entries: int = 0
    heads: int = 0
    tree_size: int = 0
    root: bytes = b""
    first_bad_entry: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, index: int | None = None) -> None:
        if index is not None and (self.first_bad_entry is None or index < self.first_bad_entry):
            self.first_bad_entry = index
        if len(self.problems) < 20:  # the first ones say what happened; a thousand more say nothing new
            self.problems.append(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "heads": self.heads,
            "tree_size": self.tree_size,
            "root_hash": self.root.hex(),
            "first_bad_entry": self.first_bad_entry,
            "problems": self.problems,
        }


def verify_log(
    storage: LedgerStorage,
    key: PublicKey,
    checkpoint: SignedTreeHead | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Recompute the whole log behind ``storage`` and check it against its heads and ``checkpoint``."""
    report = VerifyReport()
    heads = list(storage.iter_heads())
    report.heads = len(heads)
    _check_heads(heads, key, report)
    if checkpoint is not None and not key.verify(checkpoint):
        report.fail("the checkpoint's signature does not verify with this key")
    latest = heads[-1].size if heads else 0
    report.tree_size = latest
    wanted: dict[int, list[bytes]] = {}
    for head in heads:
        wanted.setdefault(head.size, []).append(head.root)
    if checkpoint is not None:
        if checkpoint.size > latest:
            report.fail(f"rolled back: the checkpoint signs {checkpoint.size} entries, the log has {latest}")
        wanted.setdefault(checkpoint.size, []).append(checkpoint.root)
    roots = _replay(storage, latest, set(wanted), report, progress)
    for size, signed in sorted(wanted.items()):
        if size not in roots:
            continue
        if any(root != roots[size] for root in signed):
            start = max((s for s in roots if s < size and all(r == roots[s] for r in wanted[s])), default=0)
            report.fail(
                f"the tree of {size} entries does not match its signed root (first bad entry in [{start}, {size}))",
                # A named entry (its leaf differs from the stored hash) says more than a range.
                start if report.first_bad_entry is None else None,
            )
    report.root = roots.get(latest, fold([]))
    return report


def _check_heads(heads: list[SignedTreeHead], key: PublicKey, report: VerifyReport) -> None:
    previous = 0
    for n, head in enumerate(heads):
        if not key.verify(head):
            report.fail(f"tree head #{n} (size {head.size}) has a signature that does not verify")
        if head.size < previous:
            report.fail(f"tree head #{n} shrinks the log from {previous} to {head.size} entries")
        previous = max(previous, head.size)


def _replay(
    storage: LedgerStorage,
    latest: int,
    sizes: set[int],
    report: VerifyReport,
    progress: Callable[[int], None] | None,
) -> dict[int, bytes]:
    """Recompute leaves, nodes and roots at ``sizes``; compare with what is stored."""
    frontier: Frontier = []
    roots = {0: fold([])} if 0 in sizes else {}
    expected = 0
    chunk: list[tuple[int, bytes]] = []

    def flush() -> None:
        nonlocal expected
        nodes: dict[NodeKey, bytes] = {}
        leaves = [leaf_hash(data) for _, data in chunk]
        for (index, data), h in zip(chunk, leaves, strict=True):
            try:
                if Entry.decode(data).encode() != data:
                    raise EntryFormatError("not canonical")
            except EntryFormatError as exc:
                report.fail(f"entry {index} is malformed ({exc})", index)
            extend(frontier, index, [h], nodes)
            if index + 1 in sizes:
                roots[index + 1] = fold([x for _, _, x in frontier])
        stored = storage.nodes(nodes)
        bad_leaves = [key[1] for key, h in nodes.items() if key[0] == 0 and stored.get(key) != h]
        for index in bad_leaves:
            report.fail(f"entry {index} does not match its stored leaf hash", index)
        if not bad_leaves:
            # Interior nodes above a changed leaf differ as a consequence; only report them alone.
            for (level, pos), h in nodes.items():
                if level and stored.get((level, pos)) != h:
                    report.fail(f"the stored node ({level}, {pos}) does not match the entries under it")
        expected += len(chunk)
        report.entries = expected
        chunk.clear()
        if progress is not None:
            progress(expected)

    for index, data in storage.iter_entries():
        if index != expected + len(chunk):
            missing = expected + len(chunk)
            report.fail(f"entry {missing} is missing (the next stored entry is {index})", missing)
            break
        chunk.append((index, data))
        if len(chunk) == _CHUNK:
            flush()
    if chunk:
        flush()
    if expected > latest:
        report.fail(f"entries {latest} to {expected - 1} are not covered by any signed tree head", latest)
    elif expected < latest:
        report.fail(f"the signed log has {latest} entries, only {expected} are stored", expected)
    return roots
