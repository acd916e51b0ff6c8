"""``medsight stream`` without a server: usage errors, an unreachable service, no torch at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medsight.errors import UsageError
from medsight.io.framebytes import FrameEncoding, encode_frame
from medsight.services.streams.replay import load_frames, parse_spacing, stream_url


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    for k in range(2):
        pixels = np.full((16, 24), 40 * k, dtype=np.uint8)
        (tmp_path / f"f{k}.png").write_bytes(encode_frame(pixels, FrameEncoding.PNG))
    return tmp_path


def test_help_loads_neither_torch_nor_websockets() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from medsight.cli.app import app; "
        "r = CliRunner().invoke(app, ['stream', '--help']); "
        "assert r.exit_code == 0; print('torch' in sys.modules, 'websockets' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def _medsight(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MEDSIGHT_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "medsight", *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a token"),
        (["--token", "t", "--encoding", "gif"], "--encoding"),
        (["--token", "t", "--fps", "0"], "--fps"),
        (["--token", "t", "--url", "ftp://x"], "--url"),
    ],
)
def test_usage_errors_exit_2(frames: Path, args: list[str], message: str) -> None:
    done = _medsight("stream", str(frames), "--task", "cxr-pneumonia", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("error[usage.invalid]")
    assert message in done.stderr


def test_an_unreachable_service_is_one_clear_line(frames: Path) -> None:
    done = _medsight("stream", str(frames), "--task", "t", "--token", "t", "--url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error[medsight.error]: cannot open a stream at ws://127.0.0.1:9/api/v1/streams/t (ConnectionRefusedError)"
    )


def test_frames_of_a_folder_are_read_in_order_and_encoded(frames: Path) -> None:
    loaded = load_frames(frames, FrameEncoding.RAW)
    assert (loaded.rows, loaded.columns) == (16, 24)
    assert [f[0] for f in loaded.frames] == [0, 40]


def test_stream_url_keeps_a_path_prefix() -> None:
    assert stream_url("https://host:8443/medsight/", "us-breast") == "wss://host:8443/medsight/api/v1/streams/us-breast"


@pytest.mark.parametrize(("text", "expected"), [("0.1", (0.1, 0.1)), ("0.12,0.1", (0.12, 0.1))])
def test_pixel_spacing_is_one_or_two_numbers(text: str, expected: tuple[float, float]) -> None:
    assert parse_spacing(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0", "-1", "1,2,3"])
def test_a_bad_pixel_spacing_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--pixel-spacing"):
        parse_spacing(text)


def test_the_given_spacing_overrides_the_files(frames: Path) -> None:
    assert load_frames(frames).pixel_spacing_mm is None
    assert load_frames(frames, pixel_spacing_mm=(0.2, 0.2)).pixel_spacing_mm == (0.2, 0.2)
