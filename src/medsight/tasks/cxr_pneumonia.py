"""``cxr-pneumonia``: pneumonia on a frontal chest radiograph, from the Kermany data.

Two shipped models: 28 px (PneumoniaMNIST) and 224 px (the same images at 8x the
resolution). Both were trained on paediatric images from one hospital in Guangzhou, which
is what their model cards and the limitations below must say plainly.
"""

from __future__ import annotations

from medsight.tasks.acceptance import AcceptanceRule
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskSpec
from medsight.types import Modality

__all__ = ["CXR_PNEUMONIA", "FRONTAL_CHEST_XRAY"]

#: What every chest radiograph task accepts: CR or DX, chest, frontal (PA or AP).
FRONTAL_CHEST_XRAY = AcceptanceRule(
    description="a frontal chest X-ray",
    modalities=frozenset({Modality.CR, Modality.DX}),
    body_parts=frozenset({"CHEST", "THORAX", "LUNG", "PORT CHEST"}),
    views=frozenset({"PA", "AP"}),
)

CXR_PNEUMONIA = TaskSpec(
    name="cxr-pneumonia",
    title="Pneumonia on a frontal chest X-ray",
    classes=("normal", "pneumonia"),
    class_aliases={"NORMAL": 0, "PNEUMONIA": 1},
    acceptance=FRONTAL_CHEST_XRAY,
    preprocessing={
        # MedMNIST made its 28 px images by a center crop of the short side, then resize.
        28: Preprocessing(size=28, crop=Crop.CENTER_SQUARE),
        # The 224 px copy was resized without keeping the aspect ratio.
        224: Preprocessing(size=224, crop=Crop.NONE),
    },
    shipped_models={28: "cxr-pneumonia-28", 224: "cxr-pneumonia-224"},
    intended_use=(
        "Decision support for a clinician reading a frontal (PA or AP) chest radiograph of a child: "
        "flags images likely to show pneumonia (bacterial or viral) for priority review. "
        "Research and demonstration software; not a medical device and not for unsupervised diagnosis."
    ),
    limitations=(
        "Trained and validated on paediatric chest X-rays (ages 1-5) from a single hospital "
        "(Guangzhou Women and Children's Medical Center); performance on adults or other sites is unknown.",
        "Does not distinguish bacterial from viral pneumonia, nor detect other findings "
        "(effusion, pneumothorax, nodules, tuberculosis, devices).",
        "Lateral views, CT, MR, ultrasound and photographs of films are out of scope and are refused.",
        "The decision threshold was chosen on validation data with the training prevalence; "
        "calibrated probabilities assume a similar case mix.",
        "A soft, out-of-focus or smoothed film tends to read as pneumonia (blur looks like haze): Gaussian blur "
        "of 1 px at the 28 px input makes the 28 px model call 7% of normal validation films pneumonia (1.5 px: "
        "36%); the 224 px model, trained with blur scaled to its input since 2.0.0, 2% at 2 px, 4% at 4 px and "
        "25% at 8 px (1.0.0: 11%, 80%, 99%).",
    ),
    own_inputs="chest X-rays",
    image_kind=ImageKind.CHEST_XRAY,
    # Adult chest X-rays from other sites: frontal chest films, but not of the children it learnt from.
    checked_against={
        "tb-chest-xrays": "either",
        "dicom-samples": "refuse",
        "dicom-samples-pixels": "refuse",
        "breast-ultrasound": "refuse",
        "fetal-head-ultrasound": "refuse",
        "brain-mri-slices": "refuse",
        "hippocampus-mri-volumes": "refuse",
        "hippocampus-mri-slices": "refuse",
        "synthetic": "refuse",
    },
)
