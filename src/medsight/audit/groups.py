"""Audit attributes from a dataset's subgroup columns: values as they are, bands, intersections.

A dataset's ``labels.csv`` carries subgroup columns as text (``sex``, ``age``, ``source``).
An audit names *attributes*: a column itself (``sex``, ``source``), a derived band
(``age_band`` from ``age``), or an intersection of two (``sex*age_band``). An empty or
unreadable value is the group :data:`UNRECORDED`, reported but never compared: it is not
a population.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from medsight.errors import UsageError

__all__ = [
    "DEFAULT_AGE_BANDS",
    "INTERSECTION",
    "UNRECORDED",
    "AgeBands",
    "attribute_values",
    "parse_attributes",
    "value_order",
]

#: The group of cases whose attribute is not recorded.
UNRECORDED = "unrecorded"
#: Joins attribute names into an intersection (``sex*age_band``) and values (``female*40-59``).
INTERSECTION = "*"


@dataclass(frozen=True)
class AgeBands:
    """Age bands in whole years, by their lower edges after the first (``(18, 40, 60)``).

    The default gives ``<18``, ``18-39``, ``40-59``, ``60+``: children apart (their
    radiographs differ), then three adult bands wide enough to hold 30 cases in a
    validation set of a few hundred.
    """

    edges: tuple[int, ...] = (18, 40, 60)

    def __post_init__(self) -> None:
        if not self.edges or list(self.edges) != sorted(set(self.edges)) or self.edges[0] <= 0:
            raise UsageError("age band edges must be increasing positive whole years")

    def labels(self) -> tuple[str, ...]:
        """Every band's label, youngest first."""
        edges = self.edges
        inner = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
        return (f"<{edges[0]}", *inner, f"{edges[-1]}+")

    def band(self, age: str) -> str:
        """The band of an age written in years, or :data:`UNRECORDED`."""
        try:
            years = float(age)
        except ValueError:
            return UNRECORDED
        if not 0 <= years < 150:
            return UNRECORDED
        labels = self.labels()
        for index, edge in enumerate(self.edges):
            if years < edge:
                return labels[index]
        return labels[-1]


DEFAULT_AGE_BANDS = AgeBands()


def parse_attributes(text: str | Sequence[str]) -> tuple[str, ...]:
    """Attribute names from ``sex,age_band,source`` (or a list), each once, in order.

    Raises:
        UsageError: no attribute, or an intersection of more or fewer than two.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if INTERSECTION in part and len(part.split(INTERSECTION)) != 2:
            raise UsageError(f"an intersection names two attributes (a{INTERSECTION}b), got {part!r}")
        if part not in names:
            names.append(part)
    if not names:
        raise UsageError("name at least one attribute to audit (e.g. sex,age_band,source)")
    return tuple(names)


def attribute_values(
    attribute: str, groups: Sequence[Mapping[str, str]], bands: AgeBands = DEFAULT_AGE_BANDS
) -> list[str]:
    """Each case's value of ``attribute``, from each case's subgroup columns.

    Raises:
        UsageError: no case records the column (the message lists those that exist).
    """
    if INTERSECTION in attribute:
        left, right = attribute.split(INTERSECTION)
        pairs = zip(attribute_values(left, groups, bands), attribute_values(right, groups, bands), strict=True)
        return [UNRECORDED if UNRECORDED in (a, b) else f"{a}{INTERSECTION}{b}" for a, b in pairs]
    column = "age" if attribute == "age_band" else attribute
    if not any(column in case for case in groups):
        present = sorted({key for case in groups for key in case})
        raise UsageError(f"the data records no {column!r} column (subgroup columns: {', '.join(present) or 'none'})")
    values = [(case.get(column) or "").strip() for case in groups]
    if attribute == "age_band":
        return [bands.band(v) if v else UNRECORDED for v in values]
    return [v.lower() if v else UNRECORDED for v in values]


def value_order(attribute: str, values: Sequence[str], bands: AgeBands = DEFAULT_AGE_BANDS) -> list[str]:
    """The distinct ``values`` in reading order: age bands youngest first, others alphabetical,
    :data:`UNRECORDED` last; an intersection orders by its first attribute, then its second."""

    def key(value: str) -> tuple[tuple[int, int, str], ...]:
        if value == UNRECORDED:
            return ((2, 0, ""),)
        names = attribute.split(INTERSECTION)
        parts = value.split(INTERSECTION) if len(names) == 2 else [value]
        return tuple(_part_key(name, part, bands) for name, part in zip(names, parts, strict=False))

    return sorted(set(values), key=key)


def _part_key(attribute: str, value: str, bands: AgeBands) -> tuple[int, int, str]:
    labels = bands.labels()
    if attribute == "age_band" and value in labels:
        return (0, labels.index(value), "")
    return (1 if value == UNRECORDED else 0, 0, value)
