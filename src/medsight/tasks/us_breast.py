"""``us-breast``: malignant versus benign or normal on a breast ultrasound image (BreastMNIST).

BreastMNIST stores 0 = malignant, 1 = normal or benign (MedMNIST merged the source's
normal and benign classes); this task reports the probability of **malignant**, the
finding a reader must not miss, so the stored labels are swapped on loading
(:attr:`~medsight.tasks.registry.TaskSpec.stored_labels`): a held-back npz in the
MedMNIST layout is scored unchanged.
"""

from __future__ import annotations

from medsight.tasks.acceptance import AcceptanceRule
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskSpec
from medsight.types import Modality

__all__ = ["BREAST_ULTRASOUND", "US_BREAST"]

#: A B-mode breast ultrasound image: modality US, body part breast where recorded.
BREAST_ULTRASOUND = AcceptanceRule(
    description="a breast ultrasound image",
    modalities=frozenset({Modality.US}),
    body_parts=frozenset({"BREAST"}),
    views=frozenset(),
)

US_BREAST = TaskSpec(
    name="us-breast",
    title="Malignancy on a breast ultrasound image",
    classes=("benign_or_normal", "malignant"),
    class_aliases={"BENIGN": 0, "NORMAL": 0, "BENIGN_OR_NORMAL": 0, "MALIGNANT": 1},
    stored_labels={0: 1, 1: 0},
    acceptance=BREAST_ULTRASOUND,
    preprocessing={
        # MedMNIST made its 28 px images from the BUSI frames by a center square crop, then resize.
        28: Preprocessing(size=28, crop=Crop.CENTER_SQUARE),
    },
    shipped_models={28: "us-breast-28"},
    intended_use=(
        "Decision support for a clinician reviewing a B-mode breast ultrasound image that shows a lesion "
        "or the normal breast: reports the calibrated probability that the image shows a malignant lesion, "
        "to prioritise review and second reading. Research and demonstration software; not a medical device, "
        "not a substitute for BI-RADS assessment or biopsy."
    ),
    limitations=(
        "Trained on 546 and validated on 78 images from BUSI (women aged 25-75, one hospital in Cairo, 2018, "
        "LOGIQ E9 scanners), reduced to 28 x 28 px: fine margins, calcifications and posterior features "
        "are lost at this resolution; other scanners, presets and populations are untested.",
        "Validation holds 78 images (21 malignant): every figure has wide confidence intervals, and they "
        "flatter: five-fold cross-validation of the same recipe on the training split (docs/models.md) gave "
        "AUC 0.89 and accuracy 0.85 on images the networks never saw. Expect about that on new images.",
        "Normal and benign are one class; the model does not grade BI-RADS and does not localise the lesion "
        "(the saliency map is not a segmentation).",
        "Other modalities, other ultrasound (fetal, abdominal, cardiac), Doppler or colour overlays, "
        "mammograms and photographs are out of scope and are refused.",
        "The threshold was chosen on validation data (27% malignant); PPV and NPV move with prevalence.",
    ),
    own_inputs="breast ultrasound images",
    image_kind=ImageKind.BREAST_ULTRASOUND,
    checked_against={
        "fetal-head-ultrasound": "refuse",
        "chest-xrays-28": "refuse",
        "tb-chest-xrays": "refuse",
        "brain-mri-slices": "refuse",
        "hippocampus-mri-slices": "refuse",
        "dicom-samples": "refuse",
        "dicom-samples-pixels": "refuse",
        "hippocampus-mri-volumes": "refuse",
        "synthetic": "refuse",
    },
)
