"""The label mask as NIfTI: uint8 on the source grid, the source's affine, the names in the header."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.errors import UsageError
from medsight.imaging.labels import LabelVolume
from medsight.io import read_image
from medsight.io.nifti import read_nifti, write_label_nifti, write_nifti
from medsight.settings import ReadLimits


def test_the_mask_lies_where_the_source_does(tmp_path: Path) -> None:
    write_mr_series(tmp_path / "mr", slices=5, rows=16, columns=12, orientation=(1, 0, 0, 0, 0.8, -0.6))
    image = read_image(tmp_path / "mr", ReadLimits())
    labels = LabelVolume(label_blobs(image.shape), ("anterior", "posterior"), image)
    mask = write_label_nifti(labels, tmp_path / "case.mask.nii.gz")
    source = write_nifti(image, tmp_path / "case.nii.gz")
    written, original = nib.load(mask), nib.load(source)
    np.testing.assert_allclose(written.affine, original.affine, atol=1e-5)
    assert written.get_data_dtype() == np.uint8
    assert written.header.get_intent()[0] == "label"
    assert bytes(written.header["descrip"]).rstrip(b"\0") == b"1=anterior 2=posterior"
    back = read_nifti(mask)
    np.testing.assert_array_equal(back.pixels.astype(np.uint8), labels.labels)
    np.testing.assert_allclose(back.geometry.affine(), image.geometry.affine(), atol=1e-4)


def test_the_name_must_say_nifti(tmp_path: Path) -> None:
    write_mr_series(tmp_path / "mr", slices=2, rows=4, columns=4)
    image = read_image(tmp_path / "mr", ReadLimits())
    with pytest.raises(UsageError):
        write_label_nifti(LabelVolume(np.zeros(image.shape, np.uint8), ("tumour",), image), tmp_path / "mask.png")
