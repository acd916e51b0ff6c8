"""``us-fetal-head``: the fetal skull on a head-plane ultrasound image, measured (HC18).

A segmentation task (:attr:`~medsight.tasks.registry.TaskKind.SEGMENTATION`): the model
outputs the head region; an ellipse fitted to its edge gives the head circumference
(HC), the biparietal diameter (BPD) and the occipito-frontal diameter (OFD) in mm
(:mod:`medsight.tasks.biometry`), and the gestational age is estimated from HC by
Hadlock's formula. Trained on HC18 (van den Heuvel et al., PLoS ONE 2018).
"""

from __future__ import annotations

from medsight.tasks.acceptance import AcceptanceRule
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Crop, Preprocessing
from medsight.tasks.registry import TaskKind, TaskSpec
from medsight.types import Modality

__all__ = ["FETAL_HEAD_ULTRASOUND", "US_FETAL_HEAD"]

#: A B-mode obstetric ultrasound image; body part, where recorded, of the fetus or the mother's abdomen.
FETAL_HEAD_ULTRASOUND = AcceptanceRule(
    description="a fetal head ultrasound image",
    modalities=frozenset({Modality.US}),
    body_parts=frozenset({"FETUS", "HEAD", "SKULL", "ABDOMEN", "PELVIS", "UTERUS", "OBSTETRIC", "OB"}),
    views=frozenset(),
)

US_FETAL_HEAD = TaskSpec(
    name="us-fetal-head",
    title="Fetal head circumference on an ultrasound image",
    kind=TaskKind.SEGMENTATION,
    classes=("background", "head"),
    class_aliases={},
    acceptance=FETAL_HEAD_ULTRASOUND,
    preprocessing={
        # The whole frame, stretched to a square: the mask is resized back to the frame
        # before the ellipse is fitted, so the stretch costs no accuracy in mm.
        128: Preprocessing(size=128, crop=Crop.NONE),
    },
    shipped_models={128: "us-fetal-head-128"},
    intended_use=(
        "Measurement support for a sonographer or clinician acquiring the standard transthalamic head plane "
        "in obstetric ultrasound: outlines the fetal skull, reports head circumference and biparietal "
        "diameter in mm and a gestational-age estimate from HC, for the operator to check and accept. "
        "Research and demonstration software; not a medical device, not for dating a pregnancy on its own."
    ),
    limitations=(
        "Trained on HC18 (Radboud University Medical Center, Nijmegen; 2 scanners, 2014-2015; singleton "
        "pregnancies at all trimesters); other scanners, probes, presets and populations are untested.",
        "It fits an ellipse to whatever head region it finds: it does not check that the image is the standard "
        "plane (thalami, cavum septi pellucidi), and off-plane images give plausible but wrong measurements.",
        "BPD is the fitted ellipse's minor axis on the outer skull contour (outer-to-outer), "
        "not the outer-to-inner caliper placement some charts assume.",
        "Gestational age by Hadlock (1984) from HC alone; outside about 14-40 weeks it is extrapolated and "
        "flagged. Growth restriction or macrocephaly makes any HC-based age wrong.",
        "Millimetres need the pixel size: DICOM Pixel Spacing or the Sequence of Ultrasound Regions, or a "
        "value given by the caller; without one, no measurement in mm is reported.",
    ),
    own_inputs="fetal head ultrasound images",
    image_kind=ImageKind.FETAL_ULTRASOUND,
    checked_against={
        "breast-ultrasound": "refuse",
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
