"""Convert one image to NIfTI, PNG or a DICOM Secondary Capture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medsight.errors import UsageError
from medsight.io import read_image
from medsight.settings import Settings

__all__ = ["OUTPUT_SUFFIXES", "ConvertResult", "convert"]

#: Output formats by file suffix.
OUTPUT_SUFFIXES = (".nii.gz", ".nii", ".png", ".dcm")


@dataclass(frozen=True, slots=True)
class ConvertResult:
    """Where the output went and what it holds."""

    output: str
    format: str
    shape: tuple[int, ...]


def convert(source: Path, output: Path, settings: Settings, *, preset: str | None = None) -> ConvertResult:
    """Read the one image under ``source`` and write it to ``output``, format by suffix.

    PNG and DICOM Secondary Capture are windowed for display (``preset`` picks the window,
    else the image's own, else one from its value range); NIfTI keeps the physical values.

    Raises:
        UsageError: the output suffix names no supported format.
        InputError: the source holds no image, several, or a bad one.
        OutputError: the output could not be written.
    """
    name = output.name.lower()
    suffix = next((s for s in OUTPUT_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise UsageError(f"{output}: unsupported output; use one of {', '.join(OUTPUT_SUFFIXES)}")
    image = read_image(source, settings.limits, workers=settings.effective_workers)
    if suffix in (".nii.gz", ".nii"):
        from medsight.io.nifti import write_nifti

        write_nifti(image, output)
        return ConvertResult(str(output), "nifti", image.shape)
    if suffix == ".png":
        from medsight.io.raster import write_png

        write_png(image, output, preset=preset)
        return ConvertResult(str(output), "png", image.shape)
    from medsight.io.dicom.secondary_capture import write_secondary_capture

    write_secondary_capture(image, output, preset=preset)
    return ConvertResult(str(output), "dicom", image.shape)
