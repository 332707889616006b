"""Slowloris: half-open connections must not keep officers out of ``caratflow serve``.

Waitress counts a connection from its first byte; at its default limit of 100, 120
sockets that send half a request and wait starved every real client (issue 21). The
limit and the timeout of a silent connection are set by ``caratflow serve``
(``caratflow.config.ServeSettings``); here the timeout is short, to see it close them.
"""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import pytest

from .conftest import PATIENCE, Embedded, http

pytestmark = pytest.mark.slow

HALF_OPEN = 120
TIMEOUT = 3  # CARATFLOW_SERVE_CHANNEL_TIMEOUT for this test, seconds


def half_open(port: int) -> socket.socket:
    """A client that starts a request and never finishes it."""
    client = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return client


def test_a_request_is_answered_while_120_connections_hang_half_open(tmp_path):
    deployment = Embedded(tmp_path, CARATFLOW_SERVE_CHANNEL_TIMEOUT=str(TIMEOUT))
    with deployment.serve() as base, ExitStack() as hanging:
        port = int(base.rpartition(":")[2])
        sockets = [hanging.enter_context(half_open(port)) for _ in range(HALF_OPEN)]
        answer = http("GET", f"{base}/api/v1/health", timeout=TIMEOUT)
        assert answer.status == 200

        # A silent connection is closed once it has said nothing for the timeout.
        closed_by = time.monotonic() + TIMEOUT + PATIENCE
        for client in sockets:
            client.settimeout(max(closed_by - time.monotonic(), 0.1))
            assert client.recv(1024) == b"", "a half-open connection stayed open"
