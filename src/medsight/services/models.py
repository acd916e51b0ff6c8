"""Choosing and loading the model for a task: by name, by path, or by input resolution."""

from __future__ import annotations

from pathlib import Path

from medsight.errors import ModelNotFoundError
from medsight.inference import LoadedModel
from medsight.models.bundle import Bundle, resolve_bundle
from medsight.tasks import TaskSpec

__all__ = ["load_model", "shipped_for"]


def shipped_for(task: TaskSpec, resolution: int | None) -> str:
    """The shipped model of ``task`` whose input size is nearest ``resolution`` (largest if None)."""
    if not task.shipped_models:
        raise ModelNotFoundError(f"{task.name} ships no model; name one with --model")
    sizes = sorted(task.shipped_models)
    if resolution is None:
        return task.shipped_models[sizes[-1]]
    return task.shipped_models[min(sizes, key=lambda s: (abs(s - resolution), -s))]


def load_model(
    task: TaskSpec, model: str | Path | None, *, resolution: int | None, backend: str, threads: int = 0
) -> LoadedModel:
    """Load the named model, or the task's shipped model for ``resolution`` (``threads``: ONNX Runtime's).

    Raises:
        ModelNotFoundError: no such model. UsageError: the model is for another task.
        WeightsMismatchError: its weights do not match their recorded sha256.
    """
    bundle: Bundle = resolve_bundle(model, default=shipped_for(task, resolution))
    if bundle.metadata.medsight.task != task.name:
        from medsight.errors import UsageError

        raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {task.name}")
    return LoadedModel.load(bundle, backend, threads)
