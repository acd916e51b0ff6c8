"""What the browser tests do on the viewer's pages: sign in, upload, read the canvas's pixels."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

__all__ = ["canvas_stats", "drop_files", "sign_in", "wait_for_canvas_change", "wait_until"]

# Over the whole canvas: a checksum, how many pixels are clearly coloured (a heatmap on a
# greyscale image), and how many are not black.
_CANVAS_STATS = """() => {
  const canvas = document.getElementById("image-canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, coloured = 0, lit = 0;
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    sum = (Math.imul(sum, 31) + r + 7 * g + 13 * b) >>> 0;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
    if (r + g + b > 30) lit++;
  }
  return { sum, coloured, lit, width: canvas.width, height: canvas.height };
}"""

_DROP = """(files) => {
  const transfer = new DataTransfer();
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], file.name, { type: "application/dicom" }));
  }
  const zone = document.getElementById("dropzone");
  zone.dispatchEvent(new DragEvent("dragenter", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def sign_in(page: Page, url: str, token: str) -> None:
    """Open the viewer and sign in with ``token``; waits for the worklist."""
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()


def drop_files(page: Page, paths: list[Path]) -> None:
    """Drop files on the drop zone as a user dragging them from a file manager would."""
    payload = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode("ascii")} for p in paths]
    page.evaluate(_DROP, payload)


def canvas_stats(page: Page) -> dict[str, Any]:
    """Checksum, coloured and lit pixel counts of the image canvas."""
    stats: dict[str, Any] = page.evaluate(_CANVAS_STATS)
    return stats


def wait_until(page: Page, function: str, timeout_s: float = 10.0) -> Any:
    """Poll ``function`` (JavaScript, no arguments) until it returns something truthy.

    Playwright's ``wait_for_function`` evaluates a string inside the page, which the
    viewer's Content Security Policy forbids (no ``unsafe-eval``), as it should;
    ``evaluate`` calls the function through the DevTools protocol instead.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(function)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {function}")
        time.sleep(0.05)


def wait_for_canvas_change(page: Page, before: int, timeout_s: float = 10.0) -> dict[str, Any]:
    """Wait until the canvas's checksum differs from ``before``; return the new stats."""
    changed = f"() => {{ const s = ({_CANVAS_STATS})(); return s.sum !== {before} && s; }}"
    stats: dict[str, Any] = wait_until(page, changed, timeout_s)
    return stats
