"""Orthanc from Debian (``orthanc``, ``orthanc-dicomweb``) on loopback, for the service bench.

:class:`OrthancServer` writes a configuration into a folder of its own (storage and index
there too), starts ``Orthanc`` on a free port with only the DICOMweb plugin loaded
(root ``/dicom-web/``), waits for ``/system`` and stops it with SIGTERM. Authentication is
off and remote access refused: only this machine's loopback reaches it. HTTP compression
is left at Orthanc's default; the bench's client asks for ``identity`` anyway.

:func:`ensure_orthanc` installs the two packages with apt when the binary or the plugin is
missing (as root only) and says what it did, so the report can say it too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.integration.server.live import free_port

__all__ = ["DICOMWEB_PLUGIN", "ORTHANC_BINARY", "OrthancServer", "ensure_orthanc", "orthanc_config"]

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PACKAGES = ("orthanc", "orthanc-dicomweb")


def ensure_orthanc() -> str:
    """Make sure Orthanc and its DICOMweb plugin are installed.

    Returns:
        A sentence for the report: already installed, or installed by this run.

    Raises:
        RuntimeError: they are missing and could not be installed (not root, apt failed).
    """
    if ORTHANC_BINARY.exists() and DICOMWEB_PLUGIN.exists():
        return "Orthanc was already installed."
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"Orthanc is missing; install it with `apt-get install -y {' '.join(PACKAGES)}` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "install", "-y", *PACKAGES], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0 or not DICOMWEB_PLUGIN.exists():
        raise RuntimeError(f"apt-get install {' '.join(PACKAGES)} failed:\n{done.stderr[-2000:]}")
    return f"Orthanc was missing; this run installed it (`apt-get install -y {' '.join(PACKAGES)}`)."


def orthanc_config(folder: Path, port: int) -> dict[str, object]:
    """Orthanc's configuration: storage under ``folder``, HTTP on loopback ``port``, no auth."""
    return {
        "Name": "medsight-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "WebDavEnabled": False,
        "OrthancExplorerEnabled": False,
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }


@dataclass
class OrthancServer:
    """One Orthanc process; ``start()`` waits until it answers, ``stop()`` sends SIGTERM."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("Orthanc is not running")
        return self.process.pid

    def start(self, timeout_s: float = 60.0) -> OrthancServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(orthanc_config(self.folder, self.port), indent=2), encoding="utf-8")
        log = (self.folder / "orthanc.log").open("ab")
        self.process = subprocess.Popen([str(ORTHANC_BINARY), str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/system", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout_s} s:\n{self.log()}")

    def versions(self) -> str:
        """``1.10.1, DICOMweb plugin 1.7`` as the running server reports them."""
        system = httpx.get(f"{self.url}/system", timeout=5.0).json()
        plugin = httpx.get(f"{self.url}/plugins/dicom-web", timeout=5.0).json()
        return f"{system.get('Version', '?')}, DICOMweb plugin {plugin.get('Version', '?')}"

    def log(self) -> str:
        path = self.folder / "orthanc.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
