"""Inputs a chest X-ray task was not made for are refused, with the failing check named."""

from __future__ import annotations

import numpy as np
import pytest

from medsight.imaging import Image, ImageMeta, Layout
from medsight.tasks import REFUSAL_CODE, get_task, pixel_refusal
from medsight.types import Modality

TASK = get_task("cxr-pneumonia")
RULE = TASK.acceptance


def _image(modality: Modality = Modality.OT, body_part: str | None = None, view: str | None = None) -> Image:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64)).astype(np.float32)
    return Image(pixels=pixels, meta=ImageMeta(modality=modality, body_part=body_part, view=view))


@pytest.mark.parametrize(
    ("meta", "check"),
    [
        ({"modality": Modality.CT}, "modality"),
        ({"modality": Modality.MR}, "modality"),
        ({"modality": Modality.US}, "modality"),
        ({"modality": Modality.MG}, "modality"),
        ({"modality": Modality.CR, "body_part": "KNEE"}, "body_part"),
        ({"modality": Modality.DX, "body_part": "CHEST", "view": "LL"}, "view"),
        ({"modality": Modality.DX, "body_part": "CHEST", "view": "LATERAL"}, "view"),
    ],
)
def test_metadata_outside_the_task_is_refused(meta: dict[str, object], check: str) -> None:
    refusal = RULE.refusal(_image(**meta))  # type: ignore[arg-type]
    assert refusal is not None
    assert refusal.check == check
    assert refusal.to_dict()["code"] == REFUSAL_CODE == "input.out_of_distribution"


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"modality": Modality.CR},
        {"modality": Modality.DX, "body_part": "chest", "view": "PA"},
        {"modality": Modality.CR, "body_part": "CHEST", "view": "AP"},
    ],
)
def test_frontal_chest_radiographs_and_unlabelled_images_pass_the_metadata_check(meta: dict[str, object]) -> None:
    assert RULE.refusal(_image(**meta)) is None  # type: ignore[arg-type]


def test_colour_blank_and_multi_frame_inputs_fail_the_pixel_gates() -> None:
    rng = np.random.default_rng(1)
    colour = Image(pixels=rng.integers(0, 256, (32, 32, 3)).astype(np.float32))
    blank = Image(pixels=np.full((32, 32), 7.0, dtype=np.float32))
    cine = Image(pixels=rng.random((5, 32, 32)).astype(np.float32), layout=Layout.CINE)
    for image, check in ((colour, "colour"), (blank, "blank"), (cine, "frames")):
        refusal = pixel_refusal(image, RULE.description)
        assert refusal is not None
        assert refusal.check == check


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
def test_noise_fails_the_noise_gate_at_any_size(kind: str) -> None:
    rng = np.random.default_rng(3)
    for size in (28, 300, 2048):
        pixels = rng.integers(0, 256, (size, size)) if kind == "uniform" else rng.normal(128, 40, (size, size))
        refusal = pixel_refusal(Image(pixels=pixels.astype(np.float32)), RULE.description)
        assert refusal is not None
        assert refusal.check == "noise"


def test_a_smooth_image_passes_the_noise_gate() -> None:
    from tests.data.synthetic_cxr import chest_like

    image = Image(pixels=chest_like(28, True, np.random.default_rng(4)).astype(np.float32))
    assert pixel_refusal(image, RULE.description) is None


def test_a_grey_image_stored_as_rgb_passes_the_colour_gate() -> None:
    from tests.data.synthetic_cxr import chest_like

    grey = chest_like(32, False, np.random.default_rng(2)).astype(np.float32)
    rgb = Image(pixels=np.repeat(grey[..., None], 3, axis=-1))
    assert pixel_refusal(rgb, RULE.description) is None
