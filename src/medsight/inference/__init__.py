"""Running models: predictors (ONNX Runtime, torch), the distribution check, analysis."""

from medsight.inference.analyzer import Analysis, Analyzer, Uncertainty, saliency_on_display
from medsight.inference.model import LoadedModel, Scores
from medsight.inference.ood import OodDetector
from medsight.inference.predictor import BACKENDS, Predictor, load_predictor

__all__ = [
    "BACKENDS",
    "Analysis",
    "Analyzer",
    "LoadedModel",
    "OodDetector",
    "Predictor",
    "Scores",
    "Uncertainty",
    "load_predictor",
    "saliency_on_display",
]
