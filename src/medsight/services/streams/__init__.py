"""Live streams: frames from a probe or a wearable, analysed as they come (issue 6).

The pipeline shows in the modules: :mod:`.schema` (the device message, validated),
:mod:`.mailbox` (newest frame wins), :mod:`.predictors` (per-frame analysis by task),
:mod:`.smoothing` (measurements over time, "stable"), :mod:`.session` (one stream),
:mod:`.hub` (what streams of one process share), :mod:`.access` (who streams as which
device) and :mod:`.replay` (the client behind ``medsight stream``).

Importing this package imports no torch and no model; the hub loads a task's model on
first use.
"""

from medsight.services.streams.mailbox import LatestSlot, MailboxClosedError
from medsight.services.streams.schema import SCHEMA_VERSION, DeviceMessage, FrameHeader, SignalSample
from medsight.services.streams.smoothing import Smoothed, Smoother, Tolerance

__all__ = [
    "SCHEMA_VERSION",
    "DeviceMessage",
    "FrameHeader",
    "LatestSlot",
    "MailboxClosedError",
    "SignalSample",
    "Smoothed",
    "Smoother",
    "Tolerance",
]
