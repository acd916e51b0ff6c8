"""The process-wide side of live streams: loaded predictors, the inference threads, the stream limit.

One :class:`StreamHub` per server process. Each task's predictor is loaded on first
use, once, off the event loop, and shared by every stream of that task. Inference runs
on a small thread pool (``inference_threads``, default 2: the reference machine's
cores), never on the event loop, so a slow frame delays no other stream's messages.
Each frame's model run gets the cores divided among those threads
(:attr:`StreamOptions.model_threads`: one on 2 cores), so frames analysed at once never
ask for more threads than there are cores: ONNX Runtime's two threads per run on two
cores waited on each other whenever another thread or process took a core (one stream
at 30 fps beside other work, load 4-5: p99 79-113 ms with two, 35-49 ms with one).
Because each stream keeps at most one frame waiting (:mod:`.mailbox`) and has at most
one in analysis, the pool's queue holds at most one item per open stream, and streams
take turns on it in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from medsight.errors import StreamBusyError
from medsight.services.streams.predictors import FramePredictor, PredictorLoader, load_frame_predictor

__all__ = ["StreamHub", "StreamOptions"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamOptions:
    """Limits of live streams in one process.

    Attributes:
        max_streams: streams open at once; one more is closed with ``stream.busy``.
        inference_threads: threads that decode and analyse frames, shared by all streams.
        max_frame_pixels: the largest frame accepted, in pixels.
        idle_timeout_s: a stream that sends nothing for this long is closed (1001), so a
            silent client does not hold a place.
    """

    max_streams: int = 16
    inference_threads: int = 2
    max_frame_pixels: int = 4096 * 4096
    idle_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if min(self.max_streams, self.inference_threads, self.max_frame_pixels, self.idle_timeout_s) <= 0:
            raise ValueError("stream limits must be positive")

    @property
    def model_threads(self) -> int:
        """Threads one frame's model run may use: the cores divided among the inference threads, at least 1."""
        return max(1, (os.cpu_count() or 1) // self.inference_threads)


class StreamHub:
    """Predictors, threads and the open-stream count shared by the streams of one process.

    Args:
        options: the limits.
        registry: task name -> predictor loader (default :data:`.predictors.FRAME_PREDICTORS`),
            called with :attr:`StreamOptions.model_threads`.
    """

    def __init__(
        self, options: StreamOptions | None = None, registry: Mapping[str, PredictorLoader] | None = None
    ) -> None:
        self.options = options or StreamOptions()
        self.registry = registry
        self.executor = ThreadPoolExecutor(self.options.inference_threads, thread_name_prefix="medsight-stream")
        self._predictors: dict[str, FramePredictor] = {}
        self._loading = asyncio.Lock()
        self._open = 0

    async def predictor(self, task: str) -> FramePredictor:
        """The shared predictor of ``task``, loaded on first use (off the event loop).

        Raises:
            UnknownResourceError: no live predictor for ``task``.
            ModelError: its model could not be loaded.
        """
        if task in self._predictors:
            return self._predictors[task]
        async with self._loading:
            if task not in self._predictors:
                loop = asyncio.get_running_loop()
                predictor = await loop.run_in_executor(
                    self.executor, load_frame_predictor, task, self.registry, self.options.model_threads
                )
                self._predictors[task] = predictor
                _log.info("stream model for %s loaded", task)
        return self._predictors[task]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of ``max_streams`` places while a stream is open.

        Raises:
            StreamBusyError: every place is taken.
        """
        if self._open >= self.options.max_streams:
            raise StreamBusyError(f"the service already serves {self._open} live streams; try again later")
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1

    @property
    def open_streams(self) -> int:
        """Streams open now."""
        return self._open

    def close(self) -> None:
        """Stop the inference threads (at shutdown)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
