"""The web viewer measured in a real browser (issue 5): first image, window/level redraw, slice scrolling.

Usage, from the repository root (needs Debian's Chromium at /usr/bin/chromium and the
``playwright`` package of the dev extras)::

    python -m benchmarks.viewer [--slices 300] [--size 2048]

``make bench`` runs it as a section of BENCHMARKS.md (``python -m benchmarks.run --only viewer``
updates that section alone).

A ``medsight serve`` on a fresh data folder gets, over STOW-RS, one 2048 x 2048 16-bit
image and one 300-slice 512 x 512 16-bit CT series (synthetic; no analysis runs). Then,
in headless Chromium at 1280 x 800, with the viewer's own code and its own
instrumentation (``window.medsightViewer.perf``):

* **first image**: from opening the study (QIDO, metadata, the raw frame over WADO-RS,
  the lookup table, the canvas) to the first frame drawn; every open fetches anew.
* **window/level redraw**: one table and one pass over the 4 Mpixel frame, then the
  canvas draw, flushed by reading one pixel back (so the raster work is counted).
* **slice scrolling**: every slice of the series drawn in turn, end to end, once with
  its frames already fetched (the viewer prefetches while the reader looks) and once
  from a fresh open (fetching as it goes).

Targets: first image <= 500 ms, W/L redraw <= 16 ms, scrolling >= 30 slices/s.
Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from tests.integration.server.live import LiveServer

__all__ = ["HEADING", "main", "measure_viewer", "viewer_section"]

HEADING = "## Viewer in the browser (headless Chromium, software rendering)"

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
_BOUNDARY = "viewer-bench-boundary"


def _image(size: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    body = ((x - 0.5) ** 2 + (y - 0.5 - 0.02 * shift) ** 2 < 0.16).astype(np.float32)
    pixels = 1000 + 1000 * body + 600 * np.sin(12 * x + shift) * body + rng.normal(0, 20, (size, size))
    return np.clip(pixels, 0, 4095).astype(np.uint16)


def _dataset(pixels: np.ndarray, study: str, series: str, number: int, z: float) -> bytes:
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str)
    ds = pydicom.dcmread(path)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientName, ds.PatientID = "BENCH^VIEWER", "BENCH"
    ds.InstanceNumber = number
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = pixels.tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _series(count: int, size: int) -> Iterator[tuple[str, bytes]]:
    rng = np.random.default_rng(1)
    study, series = generate_uid(), generate_uid()
    for number in range(1, count + 1):
        yield study, _dataset(_image(size, rng, number / 10), study, series, number, 2.0 * number)


def _stow(url: str, token: str, objects: Sequence[bytes]) -> None:
    chunks = [f"--{_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + o + b"\r\n" for o in objects]
    body = b"".join(chunks) + f"--{_BOUNDARY}--\r\n".encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={_BOUNDARY}',
    }
    httpx.post(f"{url}/dicomweb/studies", content=body, headers=headers, timeout=600).raise_for_status()


def _load(url: str, token: str, objects: Iterator[tuple[str, bytes]], batch: int = 25) -> str:
    studies, pending = set(), []
    for uid, data in objects:
        studies.add(uid)
        pending.append(data)
        if len(pending) == batch:
            _stow(url, token, pending)
            pending = []
    if pending:
        _stow(url, token, pending)
    (study,) = studies
    return study


_WAIT_FIRST = "() => window.medsightViewer.perf.firstImageMs"
_REDRAW = """async ([n, scale]) => {
  const v = window.medsightViewer, ctx = v.view.context, js = [], flushed = [];
  if (scale) v.view.zoomAt(scale / v.view.scale, 0, 0);
  for (let i = 0; i < n; i++) {
    v.window = { center: 30 + (i % 20) * 15, width: 350 + (i % 7) * 40 };
    const t0 = performance.now();
    v.drawNow();
    const t1 = performance.now();
    ctx.getImageData(0, 0, 1, 1);
    flushed.push(performance.now() - t0);
    js.push(t1 - t0);
  }
  return { js, flushed };
}"""
_SCROLL = """async () => {
  const v = window.medsightViewer, n = v.series.slices.length, ctx = v.view.context;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { await v.showSlice(i); v.drawNow(); ctx.getImageData(0, 0, 1, 1); }
  return { slices: n, ms: performance.now() - t0 };
}"""
_PREFETCHED = (
    "() => { const v = window.medsightViewer; return v.series && v.study.frames.size >= v.series.slices.length; }"
)


def _poll(page, function: str, timeout_s: float = 300.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(function)):
        if time.monotonic() > deadline:
            raise TimeoutError(function)
        time.sleep(0.02)
    return value


def _open(page, study: str) -> float:  # type: ignore[no-untyped-def]
    page.evaluate("() => { location.hash = '#worklist'; }")
    page.wait_for_selector("#view-worklist:not([hidden])")
    page.evaluate(f"() => {{ location.hash = '#study/{study}'; }}")
    return float(_poll(page, _WAIT_FIRST))


def _measure(page, big: str, ct: str, repeats: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    first = [_open(page, big) for _ in range(repeats)]
    redraw = page.evaluate(_REDRAW, [60, None])
    redraw_full = page.evaluate(_REDRAW, [30, 1.0])
    _open(page, ct)
    _poll(page, _PREFETCHED)
    page.evaluate("() => Promise.all([...window.medsightViewer.study.frames.values()]).then(() => true)")
    warm = page.evaluate(_SCROLL)
    _open(page, ct)
    cold = page.evaluate(_SCROLL)
    return {"first": first, "redraw": redraw, "redraw_full": redraw_full, "warm": warm, "cold": cold}


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _report(result: dict[str, Any], size: int) -> str:
    p50 = statistics.median
    first, redraw, full = result["first"], result["redraw"], result["redraw_full"]
    warm, cold = result["warm"], result["cold"]
    flushed = sorted(redraw["flushed"])
    p95 = flushed[int(0.95 * (len(flushed) - 1))]
    warm_rate = warm["slices"] / warm["ms"] * 1000
    cold_rate = cold["slices"] / cold["ms"] * 1000
    rows = [
        (
            f"first image, {size} x {size} 16-bit, p50 of {len(first)}",
            f"{p50(first):.0f} ms",
            "<= 500 ms",
            _verdict(p50(first) <= 500),
        ),
        (
            "W/L redraw fitted (LUT + canvas, flushed), p50 / p95",
            f"{p50(flushed):.1f} / {p95:.1f} ms",
            "<= 16 ms",
            _verdict(p50(flushed) <= 16),
        ),
        ("W/L redraw fitted, JavaScript only, p50", f"{p50(redraw['js']):.1f} ms", "", ""),
        ("W/L redraw at 1:1 zoom (every pixel windowed), p50", f"{p50(full['flushed']):.1f} ms", "", ""),
        (
            f"scrolling {warm['slices']} slices of 512 x 512, prefetched",
            f"{warm_rate:.0f} slices/s",
            ">= 30",
            _verdict(warm_rate >= 30),
        ),
        (f"scrolling {cold['slices']} slices, from a fresh open", f"{cold_rate:.0f} slices/s", "", ""),
    ]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        HEADING,
        "",
        f"_{when} UTC, {result['browser']} headless at 1280 x 800, {os.cpu_count()} cores; synthetic studies "
        "served by `medsight serve` on loopback; the viewer's own code and timers (`benchmarks/viewer.py`); "
        "made by `python -m benchmarks.run --only viewer`._",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join([*lines, ""])


def measure_viewer(slices: int = 300, size: int = 2048, repeats: int = 5) -> dict[str, Any] | None:
    """Serve the two studies, drive the viewer in Chromium, return the raw timings (None: no Chromium)."""
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="medsight-viewer-bench-") as folder:
        env = {"MEDSIGHT_ANALYSIS_WORKERS": "0", "MEDSIGHT_AUTO_ANALYZE": "false"}
        server = LiveServer(Path(folder) / "var", extra_env=env).start()
        try:
            token = server.token("--role", "radiologist")
            big = _load(server.url, token, _series(1, size), batch=1)
            ct = _load(server.url, token, _series(slices, 512))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.goto(server.url)
                    page.get_by_label("Access token").fill(token)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_selector("#view-worklist:not([hidden])")
                    result = _measure(page, big, ct, repeats)
                    result["browser"] = f"Chromium {browser.version}"
                finally:
                    browser.close()
        finally:
            server.stop()
    return {**result, "size": size}


def viewer_section(result: dict[str, Any] | None) -> str:
    """The Markdown section of a :func:`measure_viewer` result."""
    if result is None:
        return f"{HEADING}\n\nNot measured: no Chromium at {CHROMIUM} (apt-get install chromium).\n"
    return _report(result, result["size"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(viewer_section(measure_viewer(args.slices, args.size, args.repeats)))


if __name__ == "__main__":
    main()
