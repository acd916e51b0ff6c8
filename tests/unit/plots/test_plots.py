"""The plots render valid PNGs of the promised size, without pyplot or a display."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from medsight.errors import UsageError
from medsight.plots import reliability_plot_png, roc_plot_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.4).astype(int)
    return y, np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.0, 1.0)


def _decode(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_roc_plot_is_a_750_px_png() -> None:
    y, p = _sample()
    image = _decode(roc_plot_png(y, p, title="val", threshold=0.5, auc_ci=(0.8, 0.9)))
    assert image.format == "PNG"
    assert image.size == (750, 750)  # 5 x 5 in at 150 dpi


def test_reliability_plot_is_a_750_px_png() -> None:
    y, p = _sample()
    image = _decode(reliability_plot_png(y, p, title="val", n_bins=10, ece=0.04))
    assert image.size == (750, 750)


def test_optional_parts_may_be_left_out_and_one_class_still_renders() -> None:
    y, p = _sample()
    assert _decode(roc_plot_png(y, p, title="bare")).size == (750, 750)
    assert _decode(roc_plot_png(np.zeros(5, int), p[:5], title="one class", threshold=0.5)).size == (750, 750)
    assert _decode(reliability_plot_png(y, p, title="bare")).size == (750, 750)


def test_the_operating_point_changes_the_picture() -> None:
    y, p = _sample()
    assert roc_plot_png(y, p, title="t") != roc_plot_png(y, p, title="t", threshold=0.5)


def test_invalid_input_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        roc_plot_png([0, 1], [0.5], title="bad")
    with pytest.raises(UsageError):
        reliability_plot_png([0, 1], [0.5, 0.5], title="bad", n_bins=0)


def test_stats_layers_import_no_model_stack_and_no_pyplot() -> None:
    # A fresh interpreter, so other tests' imports cannot hide a dependency.
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import medsight.calibration, medsight.metrics, medsight.imaging.overlay
        from medsight.plots import roc_plot_png
        roc_plot_png(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.4]), title="t", threshold=0.5)
        banned = {"torch", "monai", "pydicom", "nibabel", "matplotlib.pyplot", "medsight.io"}
        print(sorted(banned & set(sys.modules)))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_the_saliency_audit_curves_plot_is_a_png() -> None:
    from medsight.plots import perturbation_plot_png

    fractions = [0.0, 0.5, 1.0]
    curves = {
        "deletion": [0.9, 0.4, 0.1],
        "deletion_random": [0.9, 0.7, 0.1],
        "insertion": [0.1, 0.8, 0.9],
        "insertion_random": [0.1, 0.5, 0.9],
    }
    png = perturbation_plot_png(fractions, curves, title="tiny on val")
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
