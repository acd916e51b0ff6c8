"""Live streams against a real ``medsight serve`` with a real WebSocket client and the shipped model.

The stream runs ``cxr-pneumonia`` (the shipped 224 px bundle, ONNX Runtime) until the
ultrasound models land; what is tested here is the transport, not the model.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.integration.server.live import LiveServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from medsight.io.framebytes import FrameEncoding, encode_frame
from medsight.services.streams.schema import DeviceMessage, pack_frame

pytestmark = pytest.mark.integration

TASK = "cxr-pneumonia"


def _frame_pixels(seed: int = 0, shape: tuple[int, int] = (270, 400)) -> np.ndarray:
    """A smooth synthetic frame (a bright ellipse on a gradient): not noise, so the model runs."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    ellipse = ((rows - shape[0] / 2) / (shape[0] / 3)) ** 2 + ((cols - shape[1] / 2 - seed) / (shape[1] / 4)) ** 2
    pixels = 60 + 0.2 * cols + 120 * (np.abs(ellipse - 1) < 0.08)
    return np.clip(pixels, 0, 255).astype(np.uint8)


PNG = encode_frame(_frame_pixels(), FrameEncoding.PNG)


def frame(index: int, device: str, data: bytes = PNG) -> bytes:
    message = DeviceMessage.model_validate(
        {"schema": 1, "device_id": device, "timestamp": time.time(), "frame": {"index": index, "encoding": "png"}}
    )
    return pack_frame(message, data)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("streams") / "var"
    live = LiveServer(data_dir=data_dir, extra_env={"MEDSIGHT_ANALYSIS_WORKERS": "0"}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def probe(server: LiveServer) -> str:
    return server.token("--role", "device", "--name", "probe-1")


def url(server: LiveServer, task: str = TASK) -> str:
    return f"ws://127.0.0.1:{server.port}/api/v1/streams/{task}"


def open_stream(server: LiveServer, token: str | None, task: str = TASK) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return connect(url(server, task), additional_headers=headers, open_timeout=30, proxy=None)


def close_code(ws: ClientConnection, timeout: float = 30.0) -> int | None:
    """Read until the server closes; its close code."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def ready(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=60))
    assert message["type"] == "ready"
    return message


def test_auth_failures_close_with_clear_codes(server: LiveServer) -> None:
    with open_stream(server, None) as ws:
        ws.send("{}")
        assert close_code(ws) == 4401
    with open_stream(server, "msk_0123456789abcdef_" + "a" * 43) as ws:
        assert close_code(ws) == 4401
    with open_stream(server, server.token("--role", "auditor")) as ws:
        assert close_code(ws) == 4403
    with open_stream(server, None) as ws:  # a browser: the token in the first message
        ws.send(json.dumps({"type": "auth", "token": server.token("--role", "radiologist")}))
        assert ready(ws)["model"]["name"].startswith("cxr-pneumonia")


def test_an_unknown_task_and_an_unknown_device_are_refused(server: LiveServer, probe: str) -> None:
    with open_stream(server, probe, task="no-such-task") as ws:
        assert close_code(ws) == 4404
    with open_stream(server, probe) as ws:
        assert ready(ws)["device_id"] == "probe-1"
        ws.send(frame(0, "probe-2"))
        assert close_code(ws) == 4403


@pytest.mark.parametrize(
    "bad",
    [b"\x00\x00\x00\x02{}", b"\x00", "not json", json.dumps({"schema": 1, "device_id": "probe-1"})],
    ids=["header", "framing", "text", "schema"],
)
def test_malformed_messages_close_4400(server: LiveServer, probe: str, bad: bytes | str) -> None:
    with open_stream(server, probe) as ws:
        ready(ws)
        ws.send(bad)
        assert close_code(ws) == 4400


def test_an_undecodable_frame_closes_4400(server: LiveServer, probe: str) -> None:
    with open_stream(server, probe) as ws:
        ready(ws)
        ws.send(frame(0, "probe-1", data=b"\x89PNG not really"))
        assert close_code(ws) == 4400


def test_frames_faster_than_the_model_are_dropped_newest_answered(server: LiveServer, probe: str) -> None:
    with open_stream(server, probe) as ws:
        ready(ws)
        for index in range(60):  # a burst: far faster than the model
            ws.send(frame(index, "probe-1"))
        ws.send(json.dumps({"type": "end"}))
        answers = _until_summary(ws)
    results, summary = answers[:-1], answers[-1]
    assert summary["received"] == 60
    assert summary["dropped"] > 0
    assert summary["answered"] + summary["dropped"] == 60
    assert len(results) == summary["answered"]
    frames = [r["frame"] for r in results]
    assert frames == sorted(frames)
    assert frames[-1] == 59
    assert all(r["latency_ms"] > 0 for r in results)


def _until_summary(ws: ClientConnection) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        message = json.loads(ws.recv(timeout=60))
        out.append(message)
        if message["type"] == "summary":
            return out


def test_two_streams_are_isolated_from_a_bad_client(server: LiveServer, probe: str) -> None:
    answered: list[int] = []
    failures: list[BaseException] = []

    def good_client() -> None:
        try:
            with open_stream(server, probe) as ws:
                ready(ws)
                for index in range(40):
                    ws.send(frame(index, "probe-1"))
                    time.sleep(0.025)
                ws.send(json.dumps({"type": "end"}))
                answers = _until_summary(ws)
                answered.extend(a["frame"] for a in answers if a["type"] == "result")
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    worker = threading.Thread(target=good_client)
    worker.start()
    time.sleep(0.3)
    bad_token = server.token("--role", "device", "--name", "probe-bad")
    with open_stream(server, bad_token) as bad:
        ready(bad)
        bad.send(b"\xff" * 64)
        assert close_code(bad) == 4400
    worker.join(60)
    assert not failures, failures
    assert len(answered) >= 10
    assert answered[-1] == 39


def test_medsight_stream_json_reports_exactly_the_documented_keys(
    server: LiveServer, probe: str, tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for seed in range(3):
        (folder / f"frame{seed}.png").write_bytes(encode_frame(_frame_pixels(seed * 10), FrameEncoding.PNG))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "medsight",
            "stream",
            str(folder),
            "--task",
            TASK,
            "--fps",
            "20",
            "--seconds",
            "2",
            "--url",
            server.url,
            "--token",
            probe,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"frames_sent", "frames_answered", "frames_dropped", "latency_ms", "rtt_ms"}
    assert set(report["latency_ms"]) == set(report["rtt_ms"]) == {"p50", "p95", "p99"}
    assert 30 <= report["frames_sent"] <= 41
    assert report["frames_answered"] + report["frames_dropped"] == report["frames_sent"]
    assert report["latency_ms"]["p50"] <= report["rtt_ms"]["p50"]


def test_medsight_stream_reports_a_refused_token(server: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(PNG)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "medsight",
            "stream",
            str(tmp_path),
            "--task",
            TASK,
            "--seconds",
            "1",
            "--url",
            server.url,
            "--token",
            server.token("--role", "referrer"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 6
    assert "error[access.forbidden]" in done.stderr
    assert "4403" in done.stderr


def test_the_log_names_no_device_message_content(server: LiveServer) -> None:
    log = server.log()
    assert "closed 4400" in log
    assert "probe-bad" not in log


def test_a_client_that_vanishes_mid_stream_is_no_error(server: LiveServer, probe: str) -> None:
    with open_stream(server, probe) as ws:
        ready(ws)
        for index in range(20):
            ws.send(frame(index, "probe-1"))
        ws.socket.close()  # no close frame: the connection just drops
    time.sleep(1.0)
    with open_stream(server, probe) as again:  # the service carries on
        ready(again)
        again.send(frame(0, "probe-1"))
        assert json.loads(again.recv(timeout=60))["frame"] == 0
    assert "stream failed" not in server.log()
    assert "closed 1006" in server.log()


@pytest.mark.shared
def test_a_fetal_head_stream_measures_hc_and_settles(server: LiveServer, probe: str, shared_datasets: Path) -> None:
    from medsight.models.bundle import shipped_bundles

    if "us-fetal-head-128" not in shipped_bundles():
        pytest.skip("the us-fetal-head bundle is not shipped in this checkout")
    image = shared_datasets / "hc18" / "training_set" / "001_HC.png"
    header = {"index": 0, "encoding": "png", "pixel_spacing_mm": [0.0896585200514, 0.0896585200514]}
    answers = []
    with open_stream(server, probe, task="us-fetal-head") as ws:
        assert ready(ws)["measurements"] == ["bpd_mm", "confidence", "ga_weeks", "hc_mm", "ofd_mm", "probability"]
        for index in range(6):
            message = {
                "schema": 1,
                "device_id": "probe-1",
                "timestamp": time.time(),
                "frame": {**header, "index": index},
            }
            ws.send(pack_frame(DeviceMessage.model_validate(message), image.read_bytes()))
            answers.append(json.loads(ws.recv(timeout=60)))  # one at a time: none dropped
    last = answers[-1]
    assert last["result"]["found"] is True
    assert set(last["result"]["ellipse"]) == {"cx", "cy", "semi_major", "semi_minor", "angle_deg"}
    assert abs(last["result"]["hc_mm"] - 56.81) < 5.0  # the CSV's reference HC for this image
    assert not answers[0]["smoothed"]["hc_mm"]["stable"]
    assert last["smoothed"]["hc_mm"]["stable"]
