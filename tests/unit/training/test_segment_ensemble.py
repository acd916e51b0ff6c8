"""Deep ensembles of volume segmenters: member ``i`` is the U-Net a single run with seed
``seed + i`` trains, the ensemble's logits are their mean, and the bundle loads back as the
ensemble it was written from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.data.synthetic_volumes import write_msd_hippocampus

from medsight.data.volumes import load_volumes
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume
from medsight.models.bundle import load_bundle
from medsight.models.segmenter import Segmenter, SegmenterConfig, SegmenterEnsemble, build_segmenter
from medsight.tasks import get_task
from medsight.training.export_volume import VolumeSource, write_volume_bundle
from medsight.training.fit import FitProgress
from medsight.training.loop import TrainOptions
from medsight.training.segment_volume import VolumeOptions, default_volume_network, fit_volume_segmenter

TASK = get_task("mri-hippocampus")


def _options(members: int, seed: int = 0) -> VolumeOptions:
    assert TASK.volume is not None
    base = default_volume_network(TASK.volume, len(TASK.classes) - 1)
    tiny = SegmenterConfig.from_dict({**base.to_dict(), "channels": [4, 8, 8, 8]})
    train = TrainOptions(epochs=2, batch_size=2, lr=3e-3, patience=5, seed=seed)
    return VolumeOptions(train=train, network=tiny, bootstrap=20, members=members, name="tiny-hippo-ensemble")


@pytest.fixture(scope="module")
def msd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_msd_hippocampus(tmp_path_factory.mktemp("msd"), cases=4)


def test_an_ensemble_of_copies_segments_as_its_member() -> None:
    config = SegmenterConfig(channels=(4, 8, 8), strides=(2, 2), spatial_dims=3, out_channels=3)
    torch.manual_seed(0)
    member = Segmenter(config).eval()
    ensemble = SegmenterEnsemble([member, member, member]).eval()
    x = torch.rand(1, 1, 16, 16, 16)
    with torch.inference_mode():
        logits, features = member.run(x)
        together, side_by_side = ensemble.run(x)
    torch.testing.assert_close(together, logits)
    assert side_by_side.shape == (1, 3 * features.shape[1])
    assert isinstance(build_segmenter(SegmenterConfig(members=2)), SegmenterEnsemble)
    assert "members" not in SegmenterConfig().to_dict()  # one network's metadata is as it was
    with pytest.raises(ValueError, match="at least one member"):
        SegmenterConfig(members=0)


def test_each_member_is_the_single_network_its_seed_trains_and_the_bundle_loads_back(msd: Path, tmp_path: Path) -> None:
    data = load_volumes(msd)
    fit = fit_volume_segmenter(TASK, data, _options(members=2), FitProgress())
    assert isinstance(fit.model, SegmenterEnsemble)
    assert fit.network.members == 2
    assert [m["seed"] for m in fit.members] == [0, 1]
    for index, seed in enumerate((0, 1)):
        single = fit_volume_segmenter(TASK, data, _options(members=1, seed=seed), FitProgress())
        assert isinstance(single.model, Segmenter)
        member = fit.model.members[index].state_dict()
        for key, value in single.model.state_dict().items():
            torch.testing.assert_close(member[key], value, msg=f"member {index}: {key}")

    out = write_volume_bundle(tmp_path / "bundle", VolumeSource(TASK, fit, _options(members=2), data, "pytest"))
    bundle = load_bundle(out)
    assert bundle.metadata.medsight.network["members"] == 2
    assert [m["seed"] for m in bundle.metadata.medsight.training["members"]] == [0, 1]
    card = (out / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "- Ensemble: 2 U-Nets" in card
    loaded = LoadedVolumeSegmenter.load(bundle)
    assert isinstance(loaded.model, SegmenterEnsemble)
    image, _ = data.split("val").read(next(iter(data.split("val"))))
    result = segment_volume(loaded, image, measure_refused=True)
    assert result.labels is not None
    assert result.labels.labels.shape == image.pixels.shape[:3]
    assert 0.0 <= float(result.confidence or 0.0) <= 1.0
    assert np.isin(np.unique(result.labels.labels), [0, 1, 2]).all()
