"""Use cases, one per module: the CLI and the server call these and nothing below them."""

from medsight.services.convert import ConvertResult, convert
from medsight.services.inspect import InspectReport, inspect

__all__ = ["ConvertResult", "InspectReport", "convert", "inspect"]
