"""``mri-hippocampus``: anterior and posterior hippocampus on a 3-D MRI crop (MSD Task04).

A volume segmentation task (:attr:`~medsight.tasks.registry.TaskKind.VOLUME_SEGMENTATION`)
in 3-D: a small U-Net with a softmax over background, anterior and posterior, run in
sliding windows of 48 x 64 x 48 voxels so that any input size is covered. Reports each
part's volume in mL (a biomarker for later work on atrophy and its progression).
"""

from __future__ import annotations

from medsight.tasks.mri_brain_tumour import BRAIN_MRI
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskKind, TaskSpec
from medsight.tasks.volume import VolumeRecipe

__all__ = ["MRI_HIPPOCAMPUS"]

MRI_HIPPOCAMPUS = TaskSpec(
    name="mri-hippocampus",
    title="Anterior and posterior hippocampus on a 3-D brain MRI crop",
    kind=TaskKind.VOLUME_SEGMENTATION,
    classes=("background", "anterior", "posterior"),
    class_aliases={},
    acceptance=BRAIN_MRI,
    preprocessing={48: Preprocessing(size=48, crop=Crop.NONE)},
    shipped_models={48: "mri-hippocampus-48"},
    volume=VolumeRecipe(dims=3, patch=(48, 64, 48), min_slices=16),
    intended_use=(
        "Volumetry support for research on hippocampal atrophy: outlines the anterior (head) and posterior "
        "(body and tail) hippocampus in a T1-weighted MRI crop around one hippocampus and reports each volume "
        "in mL. Research and demonstration software; not a medical device, not for diagnosing dementia."
    ),
    limitations=(
        "Trained on the MSD Task04 crops (Vanderbilt; healthy adults and adults with a psychotic disorder): "
        "it expects a crop of about 35 x 50 x 35 mm around one hippocampus, not a whole head.",
        "The split is by crop, not by person (MSD publishes no subject map): the left and right crops of one "
        "person may be in training and validation, which can flatter the validation figures.",
        "Other field strengths, sequences, ages and diseases (Alzheimer's, epilepsy, tumours) are untested.",
        "Volumes are only as exact as the input's voxel size; a resampled or reformatted crop changes them.",
    ),
    own_inputs="hippocampus MRI crops",
    checked_against={
        "brain-mri-volumes": "refuse",
        "ct-like-volumes": "refuse",
        "noise-volumes": "refuse",
        "hippocampus-mri-slices": "refuse",
        "tb-chest-xrays": "refuse",
        "fetal-head-ultrasound": "refuse",
        "dicom-samples": "refuse",
        "synthetic": "refuse",
    },
)
