"""Labelled cases and the datasets that hold them, whatever layout they came in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsight.errors import InvalidDatasetError
from medsight.imaging import Image

__all__ = ["ALL_SPLITS", "Case", "LabelledSet", "SplitName"]

SplitName = str
#: The pseudo-split that selects every case.
ALL_SPLITS = "all"


@dataclass(frozen=True)
class Case:
    """One labelled image of a dataset.

    Attributes:
        key: stable identifier within the dataset: the relative path, or ``split/index``
            for arrays. Reported in per-case output; never patient data in our layouts.
        label: class index.
        split: ``train``, ``val``, ``test``, or ``""`` when the layout records none.
        groups: optional subgroup columns (``sex``, ``age``, ``source``...) for audits.
        path: the image file, for file layouts.
        index: row in the split's array, for array layouts.
    """

    key: str
    label: int
    split: str
    groups: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    index: int | None = None


@dataclass(frozen=True)
class LabelledSet:
    """Cases plus the means to load each one's image, and where they came from.

    Attributes:
        root: the file or folder the user named.
        layout: ``npz``, ``labels_csv`` or ``class_folders``.
        cases: every case, in a stable order (the layout's own order).
        provenance: files that define the data, with their sha256 (for model cards).
        loader: returns the :class:`Image` of a case.
    """

    root: Path
    layout: str
    cases: tuple[Case, ...]
    provenance: Mapping[str, Any]
    loader: Callable[[Case], Image] = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def image(self, case: Case) -> Image:
        """Load the image of ``case`` (raises the reader's typed errors)."""
        return self.loader(case)

    @property
    def labels(self) -> list[int]:
        """The label of every case, in order."""
        return [case.label for case in self.cases]

    def split_sizes(self) -> dict[str, int]:
        """Number of cases per split."""
        return dict(sorted(Counter(case.split or "(none)" for case in self.cases).items()))

    def class_counts(self) -> dict[int, int]:
        """Number of cases per label."""
        return dict(sorted(Counter(self.labels).items()))

    def split(self, name: SplitName) -> LabelledSet:
        """The cases of one split (``all`` keeps every case).

        Raises:
            InvalidDatasetError: the data holds no case of that split.
        """
        if name == ALL_SPLITS:
            return self
        chosen = tuple(case for case in self.cases if case.split == name)
        if not chosen:
            present = ", ".join(sorted({c.split for c in self.cases if c.split})) or "none recorded"
            raise InvalidDatasetError(
                f"{self.root.name} holds no {name!r} cases (splits present: {present}; use --split all for every case)"
            )
        return LabelledSet(self.root, self.layout, chosen, self.provenance, self.loader)

    def subset(self, keys: Sequence[str]) -> LabelledSet:
        """The cases whose key is in ``keys``, in the dataset's order."""
        wanted = set(keys)
        chosen = tuple(case for case in self.cases if case.key in wanted)
        return LabelledSet(self.root, self.layout, chosen, self.provenance, self.loader)
