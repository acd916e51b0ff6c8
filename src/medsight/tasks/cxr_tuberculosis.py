"""``cxr-tuberculosis``: pulmonary tuberculosis on a frontal chest radiograph (NLM sets).

One shipped model, at 96 px: the only copy of the NLM Shenzhen and Montgomery County sets
that could be brought in was already shrunk to 96 x 96 px without keeping the aspect
ratio, so the preprocessing stretches to the square as that copy was made
(:attr:`~medsight.tasks.preprocess.Crop.NONE`). At 96 px the fine signs of TB (small
nodules, miliary pattern, early cavitation) are below the resolution; the model sees
gross opacities, volume loss and scarring. The model card and the limitations say so.

The data's ``labels.csv`` carries ``sex``, ``age`` and ``source`` (the site) as subgroup
columns for the fairness audit, and ``clinical_reading``, which gives the label away and
is never a model input (:mod:`medsight.data.layouts` never keeps it).
"""

from __future__ import annotations

from medsight.tasks.cxr_pneumonia import FRONTAL_CHEST_XRAY
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskSpec

__all__ = ["CXR_TUBERCULOSIS"]

CXR_TUBERCULOSIS = TaskSpec(
    name="cxr-tuberculosis",
    title="Tuberculosis on a frontal chest X-ray",
    classes=("normal", "tuberculosis"),
    class_aliases={"NORMAL": 0, "TB": 1, "TUBERCULOSIS": 1, "PTB": 1},
    acceptance=FRONTAL_CHEST_XRAY,
    preprocessing={
        # The 96 px NLM copy was resized to a square without keeping the aspect ratio.
        96: Preprocessing(size=96, crop=Crop.NONE),
    },
    shipped_models={96: "cxr-tuberculosis-96"},
    intended_use=(
        "Triage support for a clinician reading a frontal (PA or AP) chest radiograph of an adult or adolescent "
        "screened for pulmonary tuberculosis: flags images likely to show TB (active or healed) for priority "
        "review and confirmatory testing (sputum, culture, molecular test). Research and demonstration "
        "software; not a medical device, not a diagnosis, and not a substitute for a radiologist's reading."
    ),
    limitations=(
        "Trained at 96 x 96 px: the only available copy of the NLM sets was shrunk from about 3000 x 3000 px "
        "without keeping the aspect ratio. Small nodules, miliary patterns, early cavities and fine scarring "
        "are below this resolution; a negative result does not rule TB out, and the figures are not those a "
        "full-resolution model reaches (Lakhani and Sundaram, Radiology 2017: AUC 0.99 at full resolution).",
        "Trained on two sites only: Shenzhen No.3 People's Hospital (China, 51% TB) and the Montgomery County "
        "TB screening programme (Maryland, USA, 42% TB). The sites differ in scanner, population and "
        "prevalence; other sites, HIV-positive populations and other prevalences are untested.",
        "Montgomery's TB class mixes active and inactive (healed) disease: the model does not tell them apart, "
        "nor TB from other causes of upper-lobe scarring or opacity (NTM, sarcoidosis, other pneumonia).",
        "Not for young children: on the Kermany paediatric films (ages 1-5, cxr-pneumonia's data), which its "
        "distribution check does not refuse, it calls 89% of the normal films TB. Of its 640 training and "
        "validation images, 35 are of patients under 18.",
        "Validation holds 128 images (22 from Montgomery): per-site figures have wide confidence intervals.",
        "Lateral views, CT, MR, ultrasound and photographs of films are out of scope and are refused.",
        "The threshold was chosen on validation data (about 50% TB); PPV falls sharply at screening "
        "prevalences (a few per cent or less).",
    ),
    own_inputs="chest X-rays",
    image_kind=ImageKind.CHEST_XRAY,
    checked_against={
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
