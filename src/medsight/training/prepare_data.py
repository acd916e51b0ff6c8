"""Turn a labelled split into model inputs with the shared preprocessing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from medsight.data import LabelledSet
from medsight.errors import InvalidDatasetError, MedsightError
from medsight.tasks import Preprocessing, prepare

__all__ = ["prepare_split"]


def prepare_split(
    data: LabelledSet,
    preprocessing: Preprocessing,
    *,
    on_case: Callable[[], None] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Inputs ``(n, 1, S, S)`` and labels ``(n,)`` of every case of ``data``.

    Raises:
        InvalidDatasetError: a case could not be read (training on a silently shrunk
            dataset would make its figures wrong).
    """
    size = preprocessing.size
    inputs = np.empty((len(data), 1, size, size), dtype=np.float32)
    for i, case in enumerate(data):
        try:
            inputs[i] = prepare(data.image(case), preprocessing).input
        except MedsightError as exc:
            raise InvalidDatasetError(f"case {case.key}: {exc.message}") from exc
        if on_case:
            on_case()
    return inputs, np.asarray(data.labels, dtype=np.int64)
