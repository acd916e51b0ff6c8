"""Diagnostic tasks: what each model answers, what it accepts, and how pixels reach it.

Pure numpy: a task is data (:class:`TaskSpec`) plus the shared preprocessing and
acceptance checks; torch lives in ``medsight.models`` and ``medsight.inference``.
"""

from medsight.tasks.acceptance import REFUSAL_CODE, AcceptanceRule, Refusal, pixel_refusal
from medsight.tasks.kinds import ImageKind
from medsight.tasks.preprocess import Crop, Prepared, Preprocessing, prepare, unit_values
from medsight.tasks.registry import TaskSpec, get_task, task_names

__all__ = [
    "REFUSAL_CODE",
    "AcceptanceRule",
    "Crop",
    "ImageKind",
    "Prepared",
    "Preprocessing",
    "Refusal",
    "TaskSpec",
    "get_task",
    "pixel_refusal",
    "prepare",
    "task_names",
    "unit_values",
]
