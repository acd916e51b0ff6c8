"""The input gate: its bundle is pinned, a task bundle attaches it, and analyses then
refuse images of another kind (synthetic kinds here; the shipped gate on real data below)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.data.synthetic_kinds import kind_planes
from tests.unit.cli.test_cli import medsight

from medsight.errors import ModelNotFoundError, UsageError, WeightsMismatchError
from medsight.imaging import Image, ImageMeta
from medsight.inference import Analyzer, LoadedModel
from medsight.inference.kind_gate import GATE_CHECK
from medsight.models.bundle import load_bundle, record_audit, shipped_bundles
from medsight.models.kind_gate import GateBundle, load_gate, shipped_gates
from medsight.services.accounts import AccessService
from medsight.services.jobs import JobService
from medsight.services.kind_gate import attach_gate, write_gate
from medsight.services.release import PromoteRequest, promote
from medsight.settings import ServiceSettings
from medsight.store import Store
from medsight.store.accounts import Accounts
from medsight.store.jobs import ModelRef
from medsight.tasks import get_task
from medsight.training.kind_gate import GateFitOptions, fit_gate

SHIPPED_GATE = "image-kind-32"


@pytest.fixture(scope="module")
def synthetic_gate(tmp_path_factory: pytest.TempPathFactory) -> GateBundle:
    x = np.concatenate([kind_planes(k, 24) for k in range(4)])
    y = np.repeat(np.arange(4), 24).astype(np.int64)
    net = fit_gate(x, y, 4, GateFitOptions(epochs=4, steps=12, batch_size=32, lr=5e-3, threads=1))
    out = tmp_path_factory.mktemp("gates") / "synthetic-gate"
    return write_gate(out, net, name="synthetic-gate", version="0.1.0", metrics={}, training={"command": "pytest"})


@pytest.fixture
def gated_bundle(tiny_bundle: Path, synthetic_gate: GateBundle, tmp_path: Path) -> Path:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "tiny-gated")
    attach_gate(bundle, synthetic_gate.path)
    return bundle


def _image(plane: np.ndarray) -> Image:
    return Image(pixels=(plane * 255).astype(np.float32), meta=ImageMeta(bits_stored=8))


def test_a_gate_bundle_is_verified_by_its_sha256(synthetic_gate: GateBundle, tmp_path: Path) -> None:
    assert load_gate(synthetic_gate.path).sha256 == synthetic_gate.sha256
    with pytest.raises(WeightsMismatchError):
        load_gate(synthetic_gate.path, expected={"model.pt": "0" * 64, "model.onnx": synthetic_gate.onnx_sha256})
    for name in ("model.pt", "model.onnx"):
        copy = shutil.copytree(synthetic_gate.path, tmp_path / f"tampered-{name}")
        weights = copy / "models" / name
        data = bytearray(weights.read_bytes())
        data[-20] ^= 1
        weights.write_bytes(bytes(data))
        with pytest.raises(WeightsMismatchError, match=name):
            load_gate(copy)
    with pytest.raises(ModelNotFoundError, match="no input gate"):
        load_gate("no-such-gate")


def test_attaching_records_the_gate_and_the_card_says_so(
    gated_bundle: Path, synthetic_gate: GateBundle, tiny_bundle: Path
) -> None:
    bundle = load_bundle(gated_bundle)
    record = bundle.metadata.medsight.input_gate
    assert record["sha256"] == synthetic_gate.sha256
    assert record["kind"] == "chest_xray"
    assert "Input gate: `synthetic-gate`" in (gated_bundle / "docs" / "model_card.md").read_text()
    assert bundle.metadata.medsight.weights == load_bundle(tiny_bundle).metadata.medsight.weights  # untouched


def test_the_exported_gate_gives_the_networks_probabilities(synthetic_gate: GateBundle, gated_bundle: Path) -> None:
    import torch

    gate = LoadedModel.load(load_bundle(gated_bundle), backend="torch").gate
    assert gate is not None
    x = np.concatenate([kind_planes(k, 4, seed=9) for k in range(4)])
    with torch.inference_mode():
        reference = torch.softmax(synthetic_gate.network()(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(gate.probabilities(x), reference, atol=1e-4)


def test_a_gated_model_refuses_another_kind_and_scores_its_own(gated_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(gated_bundle), backend="torch")
    assert model.gate is not None
    analyzer = Analyzer(model)
    rings = analyzer.analyze_many([_image(p[0]) for p in kind_planes(2, 6, seed=5)])
    assert all(a.refused is not None and a.refused.check == GATE_CHECK for a in rings)
    assert all("fetal head ultrasound" in a.refused.reason for a in rings if a.refused)
    chests = analyzer.analyze_many([_image(p[0]) for p in kind_planes(0, 6, seed=5)])
    assert not any(a.refused is not None and a.refused.check == GATE_CHECK for a in chests)


def test_an_ungated_model_keeps_its_other_checks_only(tiny_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(tiny_bundle), backend="torch")
    assert model.gate is None
    rings = Analyzer(model).analyze_many([_image(p[0]) for p in kind_planes(2, 3, seed=5)])
    assert not any(a.refused is not None and a.refused.check == GATE_CHECK for a in rings)


def test_a_bundle_never_runs_with_another_gate_than_it_recorded(gated_bundle: Path) -> None:
    meta_file = gated_bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    metadata["medsight"]["input_gate"]["sha256"] = "f" * 64
    meta_file.write_text(json.dumps(metadata))
    with pytest.raises(WeightsMismatchError):
        LoadedModel.load(load_bundle(gated_bundle), backend="torch")


def test_a_volume_task_takes_no_gate(synthetic_gate: GateBundle) -> None:
    with pytest.raises(UsageError, match="reads volumes"):
        attach_gate("mri-hippocampus-48", synthetic_gate.path)


def test_attach_gate_on_the_command_line(tiny_bundle: Path, synthetic_gate: GateBundle, tmp_path: Path) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "tiny-cli")
    done = medsight("models", "attach-gate", bundle, "--gate", synthetic_gate.path)
    assert done.returncode == 0, done.stderr
    assert "refuses inputs it gives chest_xray under 0.05" in done.stdout
    missing = medsight("models", "attach-gate", bundle, "--gate", tmp_path / "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error[model.not_found]")
    assert "Traceback" not in missing.stderr


def test_train_gate_without_data_is_a_one_line_error(tmp_path: Path) -> None:
    done = medsight("models", "train-gate", "--data", tmp_path / "none", "--out", tmp_path / "gate")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "not a folder of datasets" in done.stderr
    assert not (tmp_path / "gate").exists()


def test_every_shipped_2d_model_runs_with_the_shipped_gate() -> None:
    gate = load_gate(SHIPPED_GATE)
    assert SHIPPED_GATE in shipped_gates()
    assert sum(f.stat().st_size for f in gate.path.rglob("*") if f.is_file()) < 1024 * 1024
    for name, path in shipped_bundles().items():
        section = load_bundle(path).metadata.medsight
        if get_task(section.task).image_kind is None:
            assert not section.input_gate, name
            continue
        assert section.input_gate["sha256"] == gate.sha256, f"{name} records another gate (make models)"
        assert section.input_gate["kind"] == get_task(section.task).image_kind


@pytest.mark.shared
def test_the_shipped_gate_keeps_each_kind_to_its_own_task(shared_datasets: Path) -> None:
    """Real images the gate never trained on: fetal head frames sent to the chest model,
    MR slices sent to the breast model (which its distribution check let through half the
    time) are refused by the gate; the chest model's own validation films are not."""
    from medsight.data import load_dataset
    from medsight.data.hc18 import load_hc18
    from medsight.io import read_image
    from medsight.services.refusal import pixels_only

    chest = Analyzer(LoadedModel.load(load_bundle(shipped_bundles()["cxr-pneumonia-28"])))
    hc18 = load_hc18(shared_datasets / "hc18").split("val")
    frames = [hc18.image(case) for case in list(hc18)[:20]]
    assert all(a.refused is not None and a.refused.check == GATE_CHECK for a in chest.analyze_many(frames))
    films = load_dataset(shared_datasets / "pneumoniamnist", lambda s: int(s)).split("val")
    own = chest.analyze_many([films.image(case) for case in list(films)[:50]])
    assert not any(a.refused is not None and a.refused.check == GATE_CHECK for a in own)

    breast = Analyzer(LoadedModel.load(load_bundle(shipped_bundles()["us-breast-28"])))
    lgg = shared_datasets / "lgg_mri_segmentation_subset"
    slices = sorted(p for p in lgg.rglob("*.tif") if "_mask" not in p.name)[::25]
    from medsight.settings import ReadLimits

    mr = [pixels_only(read_image(p, ReadLimits()), 1) for p in slices]
    assert all(a.refused is not None for a in breast.analyze_many(mr))


def test_results_jobs_and_releases_name_the_gate(
    gated_bundle: Path, tiny_bundle: Path, synthetic_gate: GateBundle, store: Store, tmp_path: Path
) -> None:
    # Attaching a gate keeps the weights and the version: what it changes (which inputs are
    # refused) must still show in every place that names the model.
    plain_bundle = shutil.copytree(tiny_bundle, tmp_path / "tiny-plain")  # the fixture is shared: audit a copy
    gated, plain = load_bundle(gated_bundle), load_bundle(plain_bundle)
    assert (gated.name, gated.version, gated.sha256) == (plain.name, plain.version, plain.sha256)
    gate = {"name": "synthetic-gate", "version": "0.1.0", "sha256": synthetic_gate.sha256}
    assert gated.identity() == {
        "name": gated.name,
        "version": gated.version,
        "sha256": gated.sha256,
        "input_gate": gate,
        "config_sha256": gated.config_sha256,  # the gate is among the settings
    }
    assert "input_gate" not in plain.identity()
    analysis = Analyzer(LoadedModel.load(gated, backend="torch")).analyze_many([_image(kind_planes(0, 1)[0][0])])[0]
    assert analysis.to_dict()["model"]["input_gate"] == gate

    # A release of the model before its gate does not release the gated model.
    sex = {"min_group_n": 30, "equalized_odds_difference": 0.04, "equalized_odds_difference_ci": [0, 1]}
    passing = {
        "passed": True,
        "model_sha256": plain.sha256,
        "audited_at": "2026-01-01T00:00:00+00:00",
        "gaps": {"sex": sex},
    }
    # Each audit names the settings it judged, the input gate among them.
    record_audit(plain, {**passing, "config_sha256": plain.config_sha256})
    assert plain.config_sha256 != gated.config_sha256
    record_audit(gated, {**passing, "config_sha256": gated.config_sha256})
    data = tmp_path / "data"
    data.mkdir()
    first = promote(PromoteRequest(name=str(plain_bundle), version=plain.version, data_dir=data, by="t"))
    assert first["input_gate"] is None
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=data))
    without_gate = ModelRef(plain.name, plain.version, plain.sha256)
    with_gate = ModelRef(plain.name, plain.version, plain.sha256, synthetic_gate.sha256)
    assert service.released(without_gate)
    assert not service.released(with_gate)
    second = promote(PromoteRequest(name=str(gated_bundle), version=gated.version, data_dir=data, by="t"))
    assert second["already_released"] is False
    assert second["input_gate"] == gate
    assert service.released(with_gate)
