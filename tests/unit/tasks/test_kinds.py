"""The image kinds and the input gate's view of a plane (one path for training and analyses)."""

from __future__ import annotations

import numpy as np
import pytest

from medsight.tasks import ImageKind, get_task, task_names
from medsight.tasks.kinds import gate_planes
from medsight.tasks.preprocess import resize_area


def test_every_2d_task_names_the_kind_it_reads_and_volume_tasks_none() -> None:
    for name in task_names():
        task = get_task(name)
        assert (task.image_kind is None) == (task.volume is not None), name
    assert get_task("us-breast").image_kind is ImageKind.BREAST_ULTRASOUND
    assert ImageKind.CHEST_XRAY.description == "a chest X-ray"


@pytest.mark.parametrize("shape", [(28, 28), (224, 224), (108, 160)])
def test_small_planes_are_area_resized_whole(shape: tuple[int, int]) -> None:
    plane = np.random.default_rng(0).random(shape, dtype=np.float32)
    (out,) = gate_planes([plane], 32)
    np.testing.assert_allclose(out[0], resize_area(plane, (32, 32)), atol=1e-6)


def test_a_large_smooth_plane_is_thinned_without_changing_what_the_gate_sees() -> None:
    yy, xx = np.mgrid[0:2048, 0:1536] / 2048.0
    plane = (0.5 + 0.4 * np.sin(6 * xx) * np.cos(4 * yy)).astype(np.float32)
    (out,) = gate_planes([plane], 32)
    assert out.shape == (1, 32, 32)
    np.testing.assert_allclose(out[0], resize_area(plane, (32, 32)), atol=0.01)


def test_planes_of_several_shapes_keep_their_order() -> None:
    rng = np.random.default_rng(1)
    planes = [rng.random((28, 28), dtype=np.float32), rng.random((64, 48), dtype=np.float32)]
    planes.append(planes[0] * 0.5)
    out = gate_planes(planes, 32)
    np.testing.assert_allclose(out[2], out[0] * 0.5, atol=1e-6)
    np.testing.assert_allclose(out[1, 0], resize_area(planes[1], (32, 32)), atol=1e-6)
