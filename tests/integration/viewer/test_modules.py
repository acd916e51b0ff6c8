"""The viewer's pure modules, run in the browser they ship to (imported by the page's own origin).

Window/level against PS3.3 C.11.2.1.2.1, multipart parsing both ways, patient geometry,
slice order, 1-bit unpacking; and every control on the page has an accessible name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from tests.integration.server.live import LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def page(live_server: LiveServer, browser: Browser) -> Iterator[Page]:
    opened = browser.new_page()
    opened.goto(live_server.url)
    yield opened
    opened.close()


def run(page: Page, module: str, body: str) -> Any:
    """Import ``/js/<module>`` as ``m`` in the page and return ``body``'s value."""
    return page.evaluate(f"async () => {{ const m = await import('/js/{module}'); {body} }}")


def test_the_lut_is_the_linear_voi_function_with_the_modality_lut(page: Page) -> None:
    # CT: stored 0..2000, slope 1, intercept -1024; window 40/400 -> HU -160 black, 240 white.
    values = run(
        page,
        "lut.js",
        """
        const instance = { slope: 1, intercept: -1024, photometric: "MONOCHROME2" };
        const lut = m.buildLut(instance, { min: 0, max: 2000 }, { center: 40, width: 400 }, false);
        const grey = (stored) => lut[stored] & 0xff;
        return [grey(0), grey(1024 - 161), grey(1024 + 40), grey(1024 + 240), grey(2000)];
        """,
    )
    assert values[0] == values[1] == 0
    assert 126 <= values[2] <= 129
    assert values[3] == values[4] == 255


@pytest.mark.parametrize(
    ("photometric", "invert", "black_at_low"),
    [
        ("MONOCHROME2", False, True),
        ("MONOCHROME1", False, False),
        ("MONOCHROME2", True, False),
        ("MONOCHROME1", True, True),
    ],
)
def test_monochrome1_and_invert_flip_the_table(page: Page, photometric: str, invert: bool, black_at_low: bool) -> None:
    low = run(
        page,
        "lut.js",
        f"""
        const instance = {{ slope: 1, intercept: 0, photometric: "{photometric}" }};
        const window = {{ center: 128, width: 256 }};
        return m.buildLut(instance, {{ min: 0, max: 255 }}, window, {str(invert).lower()})[0] & 0xff;
        """,
    )
    assert (low == 0) is black_at_low


def test_signed_frames_index_the_table_from_their_minimum(page: Page) -> None:
    out = run(
        page,
        "lut.js",
        """
        const instance = { samples: 1, bitsAllocated: 16, signed: true, slope: 1, intercept: 0,
                           photometric: "MONOCHROME2" };
        const values = m.storedValues(instance, new Int16Array([-1000, 0, 1000]).buffer);
        const range = m.valueRange(values);
        const lut = m.buildLut(instance, range, { center: 0, width: 2001 }, false);
        const out = new Uint32Array(3);
        m.applyLut(values, range.min, lut, out);
        return [range.min, range.max, ...Array.from(out, (v) => v & 0xff)];
        """,
    )
    assert out == [-1000, 1000, 0, 128, 255]


def test_one_bit_frames_are_unpacked_lowest_bit_first(page: Page) -> None:
    out = run(
        page,
        "lut.js",
        """
        const instance = { samples: 1, bitsAllocated: 1, rows: 2, columns: 6 };
        return Array.from(m.storedValues(instance, new Uint8Array([0b10000101, 0b00001010]).buffer));
        """,
    )
    assert out == [1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize("with_length", [True, False])
def test_multipart_answers_split_into_their_bodies(page: Page, with_length: bool) -> None:
    length = "true" if with_length else "false"
    parts = run(
        page,
        "multipart.js",
        f"""
        const bodies = [new Uint8Array([1, 2, 13, 10, 45, 45]), new Uint8Array([9])];
        const enc = new TextEncoder();
        const chunks = [];
        for (const body of bodies) {{
          const head = "--b0\\r\\nContent-Type: application/octet-stream\\r\\n"
            + ({length} ? `Content-Length: ${{body.length}}\\r\\n` : "") + "\\r\\n";
          chunks.push(enc.encode(head), body, enc.encode("\\r\\n"));
        }}
        chunks.push(enc.encode("--b0--\\r\\n"));
        const buffer = await new Blob(chunks).arrayBuffer();
        return m.parseMultipart(buffer, 'multipart/related; type="application/octet-stream"; boundary=b0')
          .map((part) => Array.from(new Uint8Array(part)));
        """,
    )
    assert parts == [[1, 2, 13, 10, 45, 45], [9]]


def test_a_stow_body_holds_each_file_as_a_part(page: Page) -> None:
    text = run(
        page,
        "multipart.js",
        """
        const { body, contentType } = m.stowBody([new Blob(["AAA"]), new Blob(["BB"])]);
        const boundary = /boundary=(\\S+)/.exec(contentType)[1];
        const parts = (await body.text()).split(boundary).length;
        return [contentType.startsWith('multipart/related; type="application/dicom"'), parts];
        """,
    )
    assert text == [True, 4]


def test_geometry_gives_patient_coordinates_distances_and_slice_order(page: Page) -> None:
    out = run(
        page,
        "dicom.js",
        """
        const base = { spacing: [0.5, 0.8], orientation: [1, 0, 0, 0, 1, 0], instanceNumber: 0 };
        const a = { ...base, position: [10, 20, 30], instanceNumber: 2 };
        const b = { ...base, position: [10, 20, 25], instanceNumber: 1 };
        return {
          point: m.patientPoint(a, 10, 4),
          mm: m.distanceMm(a, { x: 0, y: 0 }, { x: 3, y: 8 }),
          order: m.sortInstances([a, b]).map((i) => i.position[2]),
          none: m.distanceMm({ spacing: null }, { x: 0, y: 0 }, { x: 1, y: 1 }),
        };
        """,
    )
    assert out["point"] == [18, 22, 30]  # column spacing 0.8 along the row, row spacing 0.5 down
    assert out["mm"] == pytest.approx((2.4**2 + 4.0**2) ** 0.5)
    assert out["order"] == [25, 30]
    assert out["none"] is None


def test_every_control_has_an_accessible_name(page: Page) -> None:
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll("button, input, select, textarea, canvas, a")]
          .filter((el) => !(el.getAttribute("aria-label") || (el.labels && el.labels.length) || el.textContent.trim()
                            || el.getAttribute("title")))
          .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
