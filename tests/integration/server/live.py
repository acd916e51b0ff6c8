"""A real ``medsight serve`` process on a free loopback port, for tests and benchmarks.

Started as a subprocess (the console script's own code path: uvicorn, lifespan,
logging), with its own data folder and an admin token made by ``medsight tokens create``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["LiveServer", "free_port", "issue_token"]

_MEDSIGHT = [sys.executable, "-m", "medsight"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issue_token(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``medsight tokens create ARGS`` on ``data_dir``: the token from the last line of stdout."""
    done = subprocess.run(
        [*_MEDSIGHT, "tokens", "create", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class LiveServer:
    """One server process; ``start()`` waits for ``/health``, ``stop()`` sends SIGTERM."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env}

    def token(self, *args: str) -> str:
        """A new token on this server's data folder (``--role admin`` and so on)."""
        return issue_token(self.data_dir, *args, env=self.env())

    def start(self, timeout_s: float = 60.0) -> LiveServer:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        command = [
            *_MEDSIGHT,
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not answer /health within {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL: no shutdown at all (crash tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
