"""train, evaluate, analyze and tasks as a user meets them: JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tests.data.synthetic_cxr import chest_like
from tests.unit.cli.test_cli import medsight


def test_train_writes_a_bundle_and_reports_its_metadata(synthetic_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    done = medsight(
        "train",
        "--task",
        "cxr-pneumonia",
        "--data",
        synthetic_npz,
        "--out",
        out,
        "--resolution",
        "28",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--widths",
        "4,8,8,8",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    metadata = json.loads(done.stdout)
    assert metadata["medsight"]["task"] == "cxr-pneumonia"
    assert "--epochs 1" in metadata["medsight"]["training"]["command"]
    assert (out / "models" / "model.onnx").is_file()


def test_analyze_json_on_a_folder(tiny_bundle: Path, tmp_path: Path, pydicom_test_files: Path) -> None:
    rng = np.random.default_rng(4)
    PILImage.fromarray(chest_like(28, True, rng)).save(tmp_path / "cxr.png")
    shutil.copy(pydicom_test_files / "MR_small.dcm", tmp_path / "mr.dcm")
    done = medsight("analyze", tmp_path, "--task", "cxr-pneumonia", "--model", tiny_bundle, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by_name = {Path(r["path"]).name: r for r in report["results"]}
    assert by_name["mr.dcm"]["refused"]["code"] == "input.out_of_distribution"
    assert report["counts"]["refused"] >= 1
    assert report["model"]["name"] == "tiny"


def test_evaluate_json(tiny_bundle: Path, synthetic_npz: Path) -> None:
    done = medsight(
        "evaluate",
        "--task",
        "cxr-pneumonia",
        "--data",
        synthetic_npz,
        "--split",
        "val",
        "--model",
        tiny_bundle,
        "--bootstrap",
        "200",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 48
    assert len(report["auc_ci"]) == 2
    assert report["model"]["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (("analyze", "missing.png", "--task", "cxr-pneumonia"), "input.not_found", 3),
        (("analyze", ".", "--task", "cxr-pneumothorax"), "usage.invalid", 2),
        (("analyze", ".", "--task", "cxr-pneumonia", "--model", "no-such-model"), "model.not_found", 2),
        (("evaluate", "--task", "cxr-pneumonia", "--data", "missing"), "input.not_found", 3),
    ],
)
def test_bad_requests_end_in_one_line_and_the_documented_exit_code(
    args: tuple[str, ...], code: str, exit_code: int, tmp_path: Path
) -> None:
    done = medsight(*args)
    assert done.returncode == exit_code, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"error[{code}]")


def test_a_tampered_model_is_refused_with_exit_5(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_bundle, tmp_path / "tampered"))
    weights = copy / "models" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    PILImage.fromarray(chest_like(28, False, np.random.default_rng(0))).save(tmp_path / "x.png")
    done = medsight("analyze", tmp_path / "x.png", "--task", "cxr-pneumonia", "--model", copy)
    assert done.returncode == 5
    assert done.stderr.startswith("error[model.weights_mismatch]")


def test_tasks_lists_cxr_pneumonia() -> None:
    done = medsight("tasks", "--json")
    assert done.returncode == 0
    (row,) = [r for r in json.loads(done.stdout) if r["task"] == "cxr-pneumonia"]
    assert row["models"] == {"28": "cxr-pneumonia-28", "224": "cxr-pneumonia-224"}
