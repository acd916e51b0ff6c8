"""Use case: the demo that ``make run`` shows on a fresh machine.

A small, mixed set of inputs, analysed with every shipped model of ``cxr-pneumonia``:

- chest X-rays: validation images of the 224 px Kermany set when ``../shared`` is present
  (never training images), else PneumoniaMNIST's validation images when the machine is
  online (downloaded once, md5-checked), else none, and the demo says so;
- inputs the task must refuse: pydicom's bundled CT, MR and ultrasound files (refused on
  their DICOM metadata), the same CT and MR saved as PNG (no metadata left: the pixel
  checks must catch them), a colour photograph stand-in, noise and a blank image.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsight.data import load_dataset
from medsight.errors import MedsightError
from medsight.imaging import Image, ImageMeta
from medsight.io import read_image
from medsight.io.files import write_bytes
from medsight.io.raster import write_png
from medsight.io.samples import pydicom_sample
from medsight.services.analyze import AnalyzeOptions, AnalyzeReport, analyze_path
from medsight.settings import ReadLimits
from medsight.tasks import get_task

__all__ = ["PNEUMONIAMNIST_MD5", "PNEUMONIAMNIST_URL", "DemoInputs", "build_demo_inputs", "run_demo"]

TASK = "cxr-pneumonia"
#: MedMNIST v2's PneumoniaMNIST (28 px) on Zenodo, and its published md5.
PNEUMONIAMNIST_URL = "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1"
PNEUMONIAMNIST_MD5 = "28209eda62fecd6e6a2d98b1501bb15f"
_PYDICOM_SAMPLES = ("CT_small.dcm", "MR_small.dcm", "examples_jpeg2k.dcm")


@dataclass(frozen=True)
class DemoInputs:
    """Where the demo's inputs are, and where the chest X-rays came from."""

    folder: Path
    chest_source: str


def build_demo_inputs(dest: Path, shared: Path | None, *, per_class: int = 3, online: bool = True) -> DemoInputs:
    """Fill ``dest`` with the demo inputs of the module docstring (replacing what is there)."""
    if dest.exists():
        shutil.rmtree(dest)
    chest, refuse = dest / "chest_xray", dest / "not_chest_xray"
    chest.mkdir(parents=True)
    refuse.mkdir()
    source = _chest_xrays(chest, shared, per_class, online, dest.parent)
    _not_chest(refuse)
    return DemoInputs(folder=dest, chest_source=source)


def run_demo(
    work: Path, shared: Path | None, *, models: list[str], online: bool = True
) -> tuple[DemoInputs, dict[str, AnalyzeReport]]:
    """Build the inputs under ``work/inputs`` and analyse them with each model, heatmaps included."""
    inputs = build_demo_inputs(work / "inputs", shared, online=online)
    reports = {}
    for model in models:
        # A model may be named by a path: only its last part names the folder (never join a
        # user's absolute path onto ours, which would replace it, and then remove it).
        heat = work / "heatmaps" / (re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name).strip("._") or "model")
        if heat.exists():
            shutil.rmtree(heat)
        reports[model] = analyze_path(inputs.folder, AnalyzeOptions(task=TASK, model=model, heatmap=heat))
    return inputs, reports


def _chest_xrays(dest: Path, shared: Path | None, per_class: int, online: bool, cache: Path) -> str:
    kermany = shared / "datasets" / "chest_xray_pneumonia_224" if shared else None
    if kermany is not None and kermany.is_dir():
        data = load_dataset(kermany, get_task(TASK).label_of).split("val")
        for label in (0, 1):
            for case in [c for c in data if c.label == label][:per_class]:
                assert case.path is not None
                shutil.copy(case.path, dest / case.path.name)
        return f"{kermany} (validation split)"
    if online:
        npz = _download_pneumoniamnist(cache)
        if npz is not None:
            data = load_dataset(npz, get_task(TASK).label_of).split("val")
            for label in (0, 1):
                for case in [c for c in data if c.label == label][:per_class]:
                    write_png(data.image(case), dest / f"pneumoniamnist_val_{case.index}_{label}.png")
            return f"{PNEUMONIAMNIST_URL} (validation split)"
    return "none: ../shared is absent and the machine is offline"


def _download_pneumoniamnist(cache: Path) -> Path | None:
    target = cache / "pneumoniamnist.npz"
    if not target.is_file():
        try:
            with urllib.request.urlopen(PNEUMONIAMNIST_URL, timeout=20) as response:
                payload = response.read()
        except OSError:
            return None
        if hashlib.md5(payload, usedforsecurity=False).hexdigest() != PNEUMONIAMNIST_MD5:
            return None
        write_bytes(target, payload)
    return target


def _not_chest(dest: Path) -> None:
    limits = ReadLimits()
    for name in _PYDICOM_SAMPLES:
        path = pydicom_sample(name)
        if path is None:
            continue
        shutil.copy(path, dest / name)
        if name in ("CT_small.dcm", "MR_small.dcm"):
            # The same pixels without their metadata: only the pixel checks can refuse them now.
            with contextlib.suppress(MedsightError):
                write_png(read_image(path, limits), dest / f"{Path(name).stem}_as_png.png")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    photo = np.stack([200 * xx + 30, 120 + 80 * np.sin(6 * yy), 255 * (1 - xx) * yy], axis=-1)
    samples = {
        "photo_colour.png": Image(pixels=np.clip(photo, 0, 255).astype(np.float32), meta=ImageMeta(bits_stored=8)),
        "noise.png": Image(pixels=rng.integers(0, 256, (256, 256)).astype(np.float32), meta=ImageMeta(bits_stored=8)),
        "blank.png": Image(pixels=np.full((256, 256), 128.0, dtype=np.float32), meta=ImageMeta(bits_stored=8)),
    }
    for name, image in samples.items():
        write_png(image, dest / name)
