"""Smoothing over a stream: outliers rejected, "stable" once settled, and not before."""

from __future__ import annotations

import pytest

from medsight.services.streams.smoothing import Smoother, Tolerance


def _run(values: list[float], tolerance: Tolerance) -> list[tuple[float, bool, bool]]:
    smoother = Smoother(tolerance)
    out = []
    for value in values:
        s = smoother.add(value)
        out.append((s.value, s.outlier, s.stable))
    return out


def test_a_steady_measurement_becomes_stable_after_min_count() -> None:
    hc = Tolerance(absolute=2.0, window=9, min_count=5)
    steps = _run([180.0, 180.5, 179.6, 180.2, 180.1, 179.9], hc)
    assert [stable for _, _, stable in steps] == [False, False, False, False, True, True]
    assert steps[-1][0] == pytest.approx(180.05, abs=0.2)


def test_one_wild_frame_is_rejected_and_does_not_move_the_value() -> None:
    hc = Tolerance(absolute=2.0, window=9, min_count=5)
    steps = _run([180.0, 180.4, 179.8, 180.1, 180.2, 240.0], hc)
    value, outlier, stable = steps[-1]
    assert outlier
    assert not stable  # the operator should not freeze on a frame that was thrown away
    assert value == pytest.approx(180.1, abs=0.3)


def test_a_real_change_is_followed_and_settles_again() -> None:
    tol = Tolerance(absolute=2.0, window=7, min_count=4)
    values = [150.0] * 7 + [170.0] * 7
    steps = _run(values, tol)
    assert steps[6][2]  # stable at 150
    assert steps[-1][0] == pytest.approx(170.0)
    assert steps[-1][2]  # and stable again at 170 once the window has moved on


def test_noise_wider_than_the_tolerance_is_never_stable() -> None:
    tol = Tolerance(absolute=1.0, window=9, min_count=5)
    values = [180.0 + (6.0 if i % 2 else -6.0) for i in range(20)]
    assert not any(stable for _, _, stable in _run(values, tol))


def test_relative_tolerance_scales_with_the_value() -> None:
    tol = Tolerance(absolute=0.0, relative=0.02, window=5, min_count=3)
    assert _run([100.0, 101.5, 99.0], tol)[-1][2]
    assert not _run([10.0, 11.5, 9.0], tol)[-1][2]


@pytest.mark.parametrize(
    "kwargs",
    [{"absolute": -1.0}, {"absolute": 1.0, "min_count": 10, "window": 5}, {"absolute": 1.0, "k": 0.0}],
)
def test_invalid_tolerances_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Tolerance(**kwargs)  # type: ignore[arg-type]


def test_reset_forgets_the_history() -> None:
    smoother = Smoother(Tolerance(absolute=1.0, window=5, min_count=2))
    smoother.add(1.0)
    assert smoother.add(1.0).stable
    smoother.reset()
    assert not smoother.add(1.0).stable
