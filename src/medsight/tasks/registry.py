"""The task registry: what each diagnostic task is, in one frozen record per task.

A task names what a model answers (its classes), which inputs it accepts, how pixels
become the model's input (:class:`~medsight.tasks.preprocess.Preprocessing`), which
shipped model serves each input resolution, and what a model card must say about it.
Training, evaluation and analysis look a task up here by name and do nothing
task-specific themselves; a new task is one module and one line in :data:`_TASKS`.

The registry is an explicit table, not a decorator that fills a global at import time,
so importing :mod:`medsight.tasks` does no work and the list of tasks is greppable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from medsight.errors import UsageError
from medsight.tasks.acceptance import AcceptanceRule
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Preprocessing
from medsight.tasks.volume import VolumeRecipe

__all__ = ["TaskKind", "TaskSpec", "get_task", "task_names"]


class TaskKind(StrEnum):
    """What a task's model outputs, which decides its trainer, bundle, evaluation and result.

    - ``classification``: one calibrated probability per image (``cxr-pneumonia``, ``us-breast``);
    - ``segmentation``: a mask, and measurements taken from it (``us-fetal-head``);
    - ``volume-segmentation``: voxel labels on an MRI volume and their volumes
      (``mri-brain-tumour``, ``mri-hippocampus``; :class:`~medsight.tasks.volume.VolumeRecipe`).
    """

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    VOLUME_SEGMENTATION = "volume-segmentation"


@dataclass(frozen=True)
class TaskSpec:
    """One diagnostic task.

    Attributes:
        name: stable identifier used on the command line and in bundles (``cxr-pneumonia``).
        title: a person's name for it.
        classes: class names in label order; for a binary task ``(negative, positive)``.
        class_aliases: folder or CSV spellings of each class (upper/lower case ignored).
        acceptance: which inputs the task is made for; others are refused, not scored.
        preprocessing: the default input pipeline per resolution (px), by resolution.
        shipped_models: the bundle shipped for each resolution, by resolution.
        intended_use: one paragraph for the model card.
        limitations: what a model of this task is not for, one sentence each.
        kind: classification or segmentation (:class:`TaskKind`).
        stored_labels: how a dataset's integer labels map to class indices, where they
            differ (BreastMNIST stores 0 = malignant; ``us-breast`` reports malignant as
            its positive class, index 1). Empty: the stored label is the class index.
        volume: the volume path of a ``volume-segmentation`` task, else None.
        own_inputs: what its validation inputs are, for the false-refusal row of
            ``medsight refusals`` ("chest X-rays").
        checked_against: the foreign inputs ``medsight refusals`` measures its model on: a
            group name of ``services/refusal.py`` -> ``refuse`` (the model must refuse
            them) or ``either`` (refusing some is defensible: the rate is information).
        image_kind: the kind of 2D image the task reads (:class:`ImageKind`), which a
            bundle with an input gate checks every input against; None for volume tasks.
    """

    name: str
    title: str
    classes: tuple[str, ...]
    class_aliases: Mapping[str, int]
    acceptance: AcceptanceRule
    preprocessing: Mapping[int, Preprocessing]
    shipped_models: Mapping[int, str]
    intended_use: str
    limitations: tuple[str, ...] = field(default=())
    kind: TaskKind = TaskKind.CLASSIFICATION
    stored_labels: Mapping[int, int] = field(default_factory=dict)
    volume: VolumeRecipe | None = None
    own_inputs: str = "images"
    checked_against: Mapping[str, str] = field(default_factory=dict)
    image_kind: ImageKind | None = None

    @property
    def positive_class(self) -> str:
        """The class whose probability a binary model reports."""
        return self.classes[-1]

    def label_of(self, spelling: str) -> int:
        """The label index of a class name as a folder or CSV spells it.

        Raises:
            UsageError: the spelling names no class of this task.
        """
        key = spelling.strip().lower()
        for alias, label in self.class_aliases.items():
            if alias.lower() == key:
                return label
        for label, name in enumerate(self.classes):
            if name == key:
                return label
        raise UsageError(f"{spelling!r} is not a class of {self.name} (classes: {', '.join(self.classes)})")

    def class_of_stored(self, stored: int) -> int:
        """The class index of an integer label as a dataset stores it."""
        return self.stored_labels.get(stored, stored)

    def preprocessing_for(self, resolution: int) -> Preprocessing:
        """The default preprocessing at ``resolution`` px, or a center-crop one for other sizes."""
        if resolution in self.preprocessing:
            return self.preprocessing[resolution]
        nearest = min(self.preprocessing, key=lambda r: abs(r - resolution))
        return self.preprocessing[nearest].with_size(resolution)


def _tasks() -> dict[str, TaskSpec]:
    # Imported here so that ``import medsight.tasks.registry`` alone stays cheap.
    from medsight.tasks.cxr_pneumonia import CXR_PNEUMONIA
    from medsight.tasks.cxr_tuberculosis import CXR_TUBERCULOSIS
    from medsight.tasks.mri_brain_tumour import MRI_BRAIN_TUMOUR
    from medsight.tasks.mri_hippocampus import MRI_HIPPOCAMPUS
    from medsight.tasks.us_breast import US_BREAST
    from medsight.tasks.us_fetal_head import US_FETAL_HEAD

    specs = (CXR_PNEUMONIA, CXR_TUBERCULOSIS, MRI_BRAIN_TUMOUR, MRI_HIPPOCAMPUS, US_BREAST, US_FETAL_HEAD)
    return {spec.name: spec for spec in specs}


def task_names() -> tuple[str, ...]:
    """Names of every registered task, sorted."""
    return tuple(sorted(_tasks()))


def get_task(name: str) -> TaskSpec:
    """The task called ``name``.

    Raises:
        UsageError: no task has that name (the message lists those that exist).
    """
    tasks = _tasks()
    try:
        return tasks[name]
    except KeyError:
        raise UsageError(f"unknown task {name!r}; choose one of: {', '.join(sorted(tasks))}") from None
