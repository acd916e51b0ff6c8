"""The live streams section of BENCHMARKS.md: rows per stream, memory verdict, target verdict."""

from __future__ import annotations

from typing import Any

from benchmarks.streams import QUICK_STREAMS, _flat, _frames, streams_section


def _report(p99: float) -> dict[str, Any]:
    return {
        "frames_sent": 300,
        "frames_answered": 290,
        "frames_dropped": 10,
        "latency_ms": {"p50": 10.0, "p95": 20.0, "p99": p99},
        "rtt_ms": {"p50": 11.0, "p95": 21.0, "p99": p99 + 1},
    }


def test_the_section_has_a_row_per_stream_and_the_verdicts() -> None:
    result = {
        "options": QUICK_STREAMS,
        "tasks": {
            "cxr-pneumonia": {
                "size": (540, 800),
                "long": {"seconds": 10.0, "reports": [_report(30.0)], "rss": [400.0] * 20},
                "concurrent": {"seconds": 10.0, "reports": [_report(90.0)] * 4, "rss": [420.0] * 10},
            }
        },
    }
    text = streams_section(result, "python -m benchmarks.run --only streams")
    assert text.startswith("## Live streams")
    assert "### cxr-pneumonia (800x540 frames" in text
    assert text.count("| 4 streams") == 4
    assert "| 29.0 | 1.0 | 10.0 / 20.0 / 30.0 |" in text
    assert "flat, within 10%" in text
    assert "one stream: met" in text
    assert "worst p99 of any stream: 90.0 ms" in text
    assert "Load average" not in text  # not recorded: not made up


def test_the_load_average_is_reported_when_recorded() -> None:
    measured = {
        "size": (256, 256),
        "long": {"seconds": 10.0, "reports": [_report(30.0)], "rss": [400.0] * 20},
        "concurrent": {"seconds": 10.0, "reports": [_report(40.0)] * 4, "rss": [420.0] * 10},
        "load": ((0.12, 0.5, 1.0), (2.5, 1.75, 1.25)),
    }
    text = streams_section({"options": QUICK_STREAMS, "tasks": {"us-breast": measured}}, "cmd")
    assert "0.12, 0.50, 1.00 before the runs, 2.50, 1.75, 1.25 after" in text


def test_memory_growth_is_called_out() -> None:
    assert _flat([100.0] * 10 + [120.0] * 10)[2] is False
    assert _flat([100.0] * 20)[2] is True


def test_synthetic_frames_have_the_requested_size() -> None:
    frames = _frames((256, 256), None, count=3)
    assert len(frames) == 3
    assert frames[0].shape == (256, 256)
