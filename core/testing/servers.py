"""What runs beside a test: a scenario's clock, a local SMTP server, caratflow served on a
port, a node of its own (for exchange between authorities), a JSON endpoint standing in
for another system.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from caratflow.accounts.provisioning import (
    ensure_authorities,
)
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.pluginhost import PluginHost
from caratflow.runtime import Runtime
from caratflow.testing.databases import temporary_database


class SmtpSink:
    """Every message a real local SMTP server (aiosmtpd) accepted, in arrival order."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.messages: list[Any] = []  # email.message.Message
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m["Message-ID"] for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_ledger_key(settings: Settings) -> Settings:
    """The settings with a signing key of their own instance folder, created as
    ``caratflow init`` does (never a key in the working directory)."""
    from dataclasses import replace

    from caratflow.ledger.signing_keys import ensure_signing_key

    path = settings.instance_path / "ledger-ed25519.pem"
    ensure_signing_key(path)
    return replace(
        settings, signing_key_path=path, leaf_keys_path=with_leaf_keys(settings.instance_path)
    )


def with_leaf_keys(instance: Path) -> Path:
    """The leaf key file of an instance folder, created as ``caratflow init`` does (issue 25)."""
    from caratflow.ledger.leaf_keys import ensure_leaf_keys

    path = instance / "ledger-leaf.keys"
    ensure_leaf_keys(path)
    return path


class LiveServer:
    """A WSGI app served by waitress on a free localhost port, in a background thread.

    ``with LiveServer(app) as server: server.url``. Waitress is what production runs
    (README), so a browser test meets the same server, headers and threads.
    """

    def __init__(self, app: Any, threads: int = 4, port: int = 0):
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=port, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        server = self.server

        def close_everything() -> None:  # runs in the server's own loop thread
            for channel in list(server._map.values()):
                channel.close()  # the trigger too: the map is empty, the loop ends

        with contextlib.suppress(OSError):  # the loop closed its trigger and channels already
            server.trigger.pull_trigger(close_everything)
        self._thread.join(timeout=10)
        server.task_dispatcher.shutdown()


@dataclass
class Node:
    """One authority's caratflow node: its own database, instance folder and ledger key,
    app and worker, on a port of its own (so that it comes back where it was), with the
    clock its decisions and deliveries run on."""

    code: str
    runtime: Runtime
    app: Any
    port: int
    worker: Any  # caratflow.scheduler.Worker
    clock: Clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> LiveServer:
        """``with node.serve(): ...``: up, on its port, until the block ends."""
        return LiveServer(self.app, threads=2, port=self.port)

    def deliver(self) -> Any:
        """One dispatch of this node's outbox, at its clock."""
        return self.worker.dispatcher.dispatch()

    def private_key(self) -> Any:
        from caratflow.ledger.signing_keys import signing_key

        return signing_key(self.runtime.settings)

    def public_key(self) -> str:
        """What ``caratflow peers key`` prints there."""
        from caratflow.ledger.signing import public_key_pem

        return public_key_pem(self.private_key())

    def register(self, other: Node, *accepts: str) -> None:
        """Register ``other``'s node, with the key it printed (``caratflow peers key``)."""
        self.add_peer(other.code, other.url, other.public_key(), *accepts)

    def add_peer(self, code: str, url: str, public_key: str, *accepts: str) -> None:
        """``caratflow peers add``: another authority's node, or a system such as a
        customs endpoint, and the message types taken from it."""
        from caratflow.exchange.peers import add_peer

        with unit_of_work(self.runtime.sessions) as session:
            add_peer(session, self.code, code, base_url=url, public_key=public_key, accepts=accepts)

    def route(self, audience: str, peer: str) -> None:
        """``caratflow deadlines add-recipient <code> <audience> peer:<peer>``."""
        from caratflow.deadlines.outbox import add_recipient

        with unit_of_work(self.runtime.sessions) as session:
            add_recipient(session, self.code, audience, f"peer:{peer}")

    def sequence(self) -> None:
        """``caratflow ledger sequence``: what was sealed gets its place and a signed head."""
        from caratflow.ledger.sequencer import sequence_pending

        with unit_of_work(self.runtime.sessions) as session:
            sequence_pending(session, self.private_key())


@contextmanager
def node(
    code: str,
    folder: Path,
    plugin_host: PluginHost,
    now: datetime,
    *also: Any,
    backend: str = "postgresql",
) -> Iterator[Node]:
    """A node of its own on a database of its own (``backend``: ``postgresql`` or
    ``sqlite``), its authorities created as ``caratflow init`` does, and ``also`` added (an
    ``Authority`` the plugins do not ship, as its administrator would)."""
    from caratflow.deadlines.outbox import DeliverySettings
    from caratflow.scheduler import Worker
    from caratflow.web import create_app

    folder.mkdir()
    with temporary_database(backend, folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = session_factory(engine)
            with unit_of_work(sessions) as session:
                ensure_authorities(session, plugin_host)
                session.add_all(also)
            settings = with_ledger_key(
                Settings.from_env({}, database_url=url, instance_path=folder)
            )
            runtime = Runtime.assemble(settings, engine, sessions, plugin_host)
            clock = Clock(now)
            runtime.shipments.clock = clock
            worker = Worker(runtime, DeliverySettings(timeout=5.0))
            worker.dispatcher.clock = clock
            app = create_app({"TESTING": True}, runtime=runtime)
            yield Node(code, runtime, app, free_port(), worker, clock)
        finally:
            engine.dispose()


class JsonEndpoint:
    """Another system's JSON endpoint on localhost (a customs system, a man in the middle):
    ``respond(path, body)`` gives each POST's ``(status, answer)``. ``with endpoint:``
    serves it; ``up()`` and ``down()`` stop and restart it on the same port."""

    def __init__(self, respond: Callable[[str, Any], tuple[int, Any]]):
        from http.server import BaseHTTPRequestHandler

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = respond(self.path, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._server: Any = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        from http.server import ThreadingHTTPServer

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> JsonEndpoint:
        self.up()
        return self

    def __exit__(self, *_: object) -> None:
        self.down()


@dataclass
class Clock:
    """The instant decisions are taken at, moved by the test: months of traffic, or a
    certificate's expiry, without waiting for them."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
