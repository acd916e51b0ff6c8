"""A plain-dict :class:`medsight.privacy.engine.Node`: the policy tested without pydicom."""

from __future__ import annotations

from typing import Any

from medsight.privacy.engine import Value

__all__ = ["DictNode"]


class DictNode:
    """Elements as ``{tag: (vr, value)}``; a sequence's value is a list of DictNodes."""

    def __init__(self, elements: dict[int, tuple[str, Any]]) -> None:
        self.elements = dict(elements)

    def tags(self) -> list[int]:
        return sorted(self.elements)

    def vr(self, tag: int) -> str:
        return str(self.elements[tag][0])

    def get(self, tag: int) -> Value | None:
        value = self.elements[tag][1]
        return None if value in ("", b"", None) else value  # type: ignore[no-any-return]

    def set(self, tag: int, value: Value | None) -> None:
        self.elements[tag] = (self.elements[tag][0], value)

    def delete(self, tag: int) -> None:
        del self.elements[tag]

    def items(self, tag: int) -> list[DictNode]:
        return list(self.elements[tag][1])

    def empty_sequence(self, tag: int) -> None:
        self.elements[tag] = ("SQ", [])

    def private_creator(self, tag: int) -> str | None:
        creator = self.elements.get((tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8))
        return None if creator is None else str(creator[1])

    def value(self, tag: int) -> Any:
        return self.elements[tag][1]
