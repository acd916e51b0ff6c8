"""``mri-brain-tumour``: the FLAIR abnormality of a lower-grade glioma on a brain MRI volume.

A volume segmentation task (:attr:`~medsight.tasks.registry.TaskKind.VOLUME_SEGMENTATION`),
slice-wise in 2.5D: each axial slice with its two neighbours as channels, at 128 px; the
slices' masks are stacked back into the volume, which gives the abnormality's presence,
volume (mL), largest in-plane diameter (mm) and the slices it spans. Trained on the LGG
subset of Buda et al. (TCGA-LGG, FLAIR channel only).
"""

from __future__ import annotations

from medsight.tasks.acceptance import AcceptanceRule
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskKind, TaskSpec
from medsight.tasks.volume import VolumeRecipe
from medsight.types import Modality

__all__ = ["BRAIN_MRI", "MRI_BRAIN_TUMOUR"]

#: An MR series of the head; Body Part Examined, where recorded, of the brain or head.
BRAIN_MRI = AcceptanceRule(
    description="a brain MRI volume",
    modalities=frozenset({Modality.MR}),
    body_parts=frozenset({"BRAIN", "HEAD", "HEADNECK", "SKULL", "CEREBRUM"}),
    views=frozenset(),
)

MRI_BRAIN_TUMOUR = TaskSpec(
    name="mri-brain-tumour",
    title="FLAIR abnormality (lower-grade glioma) on a brain MRI volume",
    kind=TaskKind.VOLUME_SEGMENTATION,
    classes=("background", "tumour"),
    class_aliases={},
    acceptance=BRAIN_MRI,
    preprocessing={128: Preprocessing(size=128, crop=Crop.NONE)},
    shipped_models={128: "mri-brain-tumour-128"},
    volume=VolumeRecipe(dims=2, size=128, context=1, min_slices=8),
    intended_use=(
        "Measurement support for a radiologist reading an axial FLAIR series of a patient with a known or "
        "suspected lower-grade glioma: outlines the FLAIR abnormality and reports its volume, largest diameter "
        "and slice extent, for the reader to check and correct. Research and demonstration software; not a "
        "medical device, not for diagnosis or grading."
    ),
    limitations=(
        "Trained on 7 patients (TCGA-LGG via Buda et al., kaggle_3m), validated on 2: its figures have wide "
        "intervals and other scanners, sequences and tumour types are untested.",
        "FLAIR only, axial slices: other sequences or planes give meaningless masks; it does not tell tumour "
        "from oedema, gliosis, infarcts or white-matter disease, which are FLAIR-bright too.",
        "The training TIFFs record no voxel size: millilitres and millimetres are exact only for DICOM or "
        "NIfTI inputs that carry their spacing.",
        "Not for high-grade glioma, metastases, paediatric tumours or post-operative cavities.",
    ),
    own_inputs="brain MRI volumes",
    checked_against={
        "hippocampus-mri-volumes": "refuse",
        "ct-like-volumes": "refuse",
        "noise-volumes": "refuse",
        "brain-mri-slices": "refuse",
        "tb-chest-xrays": "refuse",
        "fetal-head-ultrasound": "refuse",
        "dicom-samples": "refuse",
        "synthetic": "refuse",
    },
)
