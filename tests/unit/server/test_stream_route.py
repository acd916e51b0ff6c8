"""``/api/v1/streams/{task}`` in process: authentication ways, close codes, the stream limit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.server.conftest import auth
from tests.unit.services.streams.fakes import FakePredictor, registry
from tests.unit.services.streams.test_stream_session import frame_message

from medsight.access import Role
from medsight.server.sockets import close_code_for
from medsight.services.context import ServiceContext
from medsight.services.streams.hub import StreamHub, StreamOptions

PATH = "/api/v1/streams/fake-task"
END = json.dumps({"type": "end"})


@pytest.fixture
def streaming(app: FastAPI) -> Iterator[TestClient]:
    app.state.streams = StreamHub(StreamOptions(max_streams=1), registry=registry(FakePredictor()))
    with TestClient(app, raise_server_exceptions=False) as opened:
        yield opened


@pytest.fixture
def probe(context: ServiceContext) -> str:
    return context.access.issue_token(role=Role.DEVICE, name="probe-1").value


def test_a_device_streams_with_the_header_and_gets_answers(streaming: TestClient, probe: str) -> None:
    with streaming.websocket_connect(PATH, headers=auth(probe)) as ws:
        ready = ws.receive_json()
        assert ready["device_id"] == "probe-1"
        ws.send_bytes(frame_message(0))
        assert ws.receive_json()["frame"] == 0
        ws.send_text(END)
        assert ws.receive_json()["type"] == "summary"
        assert ws.receive()["code"] == 1000


def test_a_browser_authenticates_with_its_first_message(streaming: TestClient, tokens: dict[Role, str]) -> None:
    with streaming.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "auth", "token": tokens[Role.RADIOLOGIST]}))
        ready = ws.receive_json()
        assert ready["type"] == "ready"
        assert ready["device_id"] is None  # people may stream as any device
        ws.send_bytes(frame_message(5, device="viewer"))
        assert ws.receive_json()["frame"] == 5


@pytest.mark.parametrize(
    "first", ["{}", "not json", json.dumps({"type": "auth", "token": "msk_x_y"}), json.dumps({"type": "auth"})]
)
def test_a_bad_first_message_closes_4401(streaming: TestClient, first: str) -> None:
    with streaming.websocket_connect(PATH) as ws:
        ws.send_text(first)
        message = ws.receive()
    assert message["code"] == 4401
    assert message["reason"].startswith("access.unauthenticated")


def test_an_unknown_task_closes_4404(streaming: TestClient, probe: str) -> None:
    with streaming.websocket_connect("/api/v1/streams/no-such-task", headers=auth(probe)) as ws:
        message = ws.receive()
    assert message["code"] == 4404
    assert "fake-task" in message["reason"]


def test_an_unknown_device_closes_4403(streaming: TestClient, probe: str) -> None:
    with streaming.websocket_connect(PATH, headers=auth(probe)) as ws:
        ws.receive_json()
        ws.send_bytes(frame_message(0, device="probe-9"))
        message = ws.receive()
    assert message["code"] == 4403
    assert message["reason"].startswith("stream.unknown_device")


def test_a_malformed_message_closes_4400(streaming: TestClient, probe: str) -> None:
    with streaming.websocket_connect(PATH, headers=auth(probe)) as ws:
        ws.receive_json()
        ws.send_bytes(b"\x00\x00\x00\x02{}")
        message = ws.receive()
    assert message["code"] == 4400
    assert message["reason"].startswith("stream.malformed_message")


def test_a_frame_over_the_pixel_limit_closes_4413(app: FastAPI, probe: str) -> None:
    app.state.streams = StreamHub(StreamOptions(max_frame_pixels=10), registry=registry(FakePredictor()))
    with TestClient(app) as client, client.websocket_connect(PATH, headers=auth(probe)) as ws:
        ws.receive_json()
        ws.send_bytes(frame_message(0, pixels=np.zeros((8, 8), dtype=np.uint8)))
        assert ws.receive()["code"] == 4413


def test_past_the_stream_limit_a_stream_closes_4503(streaming: TestClient, probe: str) -> None:
    with streaming.websocket_connect(PATH, headers=auth(probe)) as first:
        first.receive_json()
        with streaming.websocket_connect(PATH, headers=auth(probe)) as second:
            message = second.receive()
        assert message["code"] == 4503
        first.send_bytes(frame_message(1))  # the first stream is untouched
        assert first.receive_json()["frame"] == 1


def test_close_codes_follow_the_http_table() -> None:
    from medsight import errors

    assert close_code_for(errors.StreamMessageError("x")) == 4400
    assert close_code_for(errors.AuthenticationError("x")) == 4401
    assert close_code_for(errors.UnknownDeviceError("x")) == 4403
    assert close_code_for(errors.UnknownResourceError("x")) == 4404
    assert close_code_for(errors.StreamBusyError("x")) == 4503


def test_a_silent_stream_is_closed_1001(app: FastAPI, probe: str) -> None:
    app.state.streams = StreamHub(StreamOptions(idle_timeout_s=0.2), registry=registry(FakePredictor()))
    with TestClient(app) as client, client.websocket_connect(PATH, headers=auth(probe)) as ws:
        ws.receive_json()
        assert ws.receive()["code"] == 1001


def test_the_stream_limits_come_from_the_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from medsight.server import create_app
    from medsight.settings import ServiceSettings

    monkeypatch.setenv("MEDSIGHT_MAX_STREAMS", "3")
    monkeypatch.setenv("MEDSIGHT_STREAM_THREADS", "1")
    monkeypatch.setenv("MEDSIGHT_STREAM_IDLE_S", "5")
    options = create_app(ServiceSettings()).state.streams.options
    assert (options.max_streams, options.inference_threads, options.idle_timeout_s) == (3, 1, 5.0)


def test_a_service_that_runs_released_models_only_closes_a_stream_of_another_4409(
    streaming: TestClient, probe: str, context: ServiceContext
) -> None:
    from medsight.services.release import RELEASES_FILE

    context.settings = context.settings.model_copy(update={"release_policy": "require"})
    with streaming.websocket_connect(PATH, headers=auth(probe)) as ws:
        message = ws.receive()
    assert message["code"] == 4409
    assert message["reason"].startswith("model.unreleased")

    model = FakePredictor().model  # released: the same name and weights in the registry
    registry_file = context.settings.data_dir / RELEASES_FILE
    registry_file.write_text(json.dumps({"name": model["name"], "sha256": model["sha256"]}) + "\n")
    with streaming.websocket_connect(PATH, headers=auth(probe)) as ws:
        assert ws.receive_json()["type"] == "ready"
