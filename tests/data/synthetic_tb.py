"""A small dataset in the layout of ``../shared/datasets/tb_cxr``: PNGs and a labels.csv.

Columns as the real set has them: ``path,label,source,patient_id,split,age,sex,
clinical_reading,sha256``. The ``clinical_reading`` gives the label away, as the real one
does, so a test can check it never becomes a model input or a subgroup. Images are the
learnable synthetic radiographs of :mod:`tests.data.synthetic_cxr`.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.data.synthetic_cxr import chest_like

__all__ = ["write_tb_folder"]

_FIELDS = ("path", "label", "source", "patient_id", "split", "age", "sex", "clinical_reading", "sha256")


def write_tb_folder(
    root: Path, *, size: int = 32, splits: dict[str, int] | None = None, seed: int = 0, missing_sex: int = 1
) -> Path:
    """Write ``root/images/<source>/*.png`` and ``root/labels.csv``; return ``root``.

    Args:
        root: the folder to create.
        size: image side, px.
        splits: cases per split (default train 96, val 64).
        seed: seed of labels, groups and pixels.
        missing_sex: how many cases of each split record no sex (the ``unrecorded`` group).
    """
    rng = np.random.default_rng(seed)
    splits = splits or {"train": 96, "val": 64}
    rows = []
    number = 0
    for split, count in splits.items():
        for index in range(count):
            number += 1
            source = "shenzhen" if rng.random() < 0.75 else "montgomery"
            label = int(rng.random() < 0.5)
            stem = f"{'CHNCXR' if source == 'shenzhen' else 'MCUCXR'}_{number:04d}_{label}"
            relative = Path("images") / source / f"{stem}.png"
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(chest_like(size, bool(label), rng), mode="L").save(root / relative)
            sex = "" if index < missing_sex else str(rng.choice(["male", "female"]))
            rows.append(
                {
                    "path": relative.as_posix(),
                    "label": label,
                    "source": source,
                    "patient_id": stem,
                    "split": split,
                    "age": int(rng.integers(5, 85)),
                    "sex": sex,
                    "clinical_reading": "PTB in the right upper field" if label else "normal",
                    "sha256": hashlib.sha256((root / relative).read_bytes()).hexdigest(),
                }
            )
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return root
