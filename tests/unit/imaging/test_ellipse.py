"""Ellipses: the direct least-squares fit, edge points, perimeter, fill and drawing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medsight.imaging.ellipse import Ellipse, draw_ellipse, edge_points, fill_ellipse, fit_ellipse


@pytest.mark.parametrize(
    "truth",
    [
        Ellipse(300.5, 200.2, 150.0, 100.0, 0.6),
        Ellipse(50.0, 40.0, 30.0, 29.0, 2.9),
        Ellipse(0.0, 0.0, 5.0, 1.0, 0.0),
        Ellipse(400.0, 270.0, 200.0, 160.0, math.pi / 2),
    ],
)
def test_the_fit_recovers_an_ellipse_from_noisy_points(truth: Ellipse) -> None:
    x, y = truth.points(400)
    noise = np.random.default_rng(0).normal(0.0, 0.002 * truth.semi_minor, size=(2, x.size))
    fitted = fit_ellipse(x + noise[0], y + noise[1])
    assert fitted.cx == pytest.approx(truth.cx, abs=0.01 * truth.semi_major)
    assert fitted.cy == pytest.approx(truth.cy, abs=0.01 * truth.semi_major)
    assert fitted.perimeter == pytest.approx(truth.perimeter, rel=2e-3)
    assert fitted.semi_major >= fitted.semi_minor
    assert 0.0 <= fitted.angle < math.pi


def test_the_fit_works_on_an_arc_only() -> None:
    truth = Ellipse(100.0, 80.0, 60.0, 40.0, 0.3)
    x, y = truth.points(360)
    fitted = fit_ellipse(x[:200], y[:200])  # a clipped head: 200 of 360 degrees
    assert fitted.perimeter == pytest.approx(truth.perimeter, rel=1e-6)


@pytest.mark.parametrize(("x", "y"), [([1, 2, 3], [1, 2, 3]), (np.arange(10.0), np.arange(10.0) * 2)])
def test_degenerate_points_are_a_value_error(x: list[float], y: list[float]) -> None:
    with pytest.raises(ValueError, match=r"points|ellipse"):
        fit_ellipse(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def test_ramanujan_perimeter_of_a_circle_and_a_flat_ellipse() -> None:
    assert Ellipse(0, 0, 10, 10, 0).perimeter == pytest.approx(2 * math.pi * 10)
    assert Ellipse(0, 0, 10, 1e-9, 0).perimeter == pytest.approx(40.0, rel=1e-3)


def test_edge_points_of_a_filled_ellipse_give_its_perimeter_without_bias() -> None:
    truth = Ellipse(300.5, 200.2, 150.0, 100.0, 0.6)
    mask = fill_ellipse((540, 800), truth)
    fitted = fit_ellipse(*edge_points(mask))
    assert fitted.perimeter == pytest.approx(truth.perimeter, rel=2e-4)


def test_scaling_to_millimetres() -> None:
    e = Ellipse(10, 20, 8, 4, 0.5)
    assert e.scaled(0.5, 0.5).perimeter == pytest.approx(e.perimeter * 0.5)
    anisotropic = Ellipse(0, 0, 10, 10, 0).scaled(2.0, 1.0)
    assert anisotropic.semi_major == pytest.approx(20, rel=1e-6)
    assert anisotropic.semi_minor == pytest.approx(10, rel=1e-6)


def test_drawing_colours_the_outline_only() -> None:
    rgb = np.zeros((100, 120, 3), dtype=np.uint8)
    drawn = draw_ellipse(rgb, Ellipse(60, 50, 40, 30, 0), (0, 255, 0), thickness=2)
    assert rgb.sum() == 0  # a copy
    assert drawn[50, 100, 1] == 255
    assert drawn[50, 60, 1] == 0
    assert set(np.unique(drawn[..., 0])) == {0}
