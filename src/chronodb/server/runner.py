"""Running the app with uvicorn: in the foreground (``chronodb serve``) or in a thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from chronodb.server.app import MiB, create_app
from chronodb.server.auth import check_bind
from chronodb.server.wsprotocol import FramesProtocol

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def check_port(host: str, port: int) -> None:
    """Refuse an address another program already listens on (ValueError), so that nothing
    is announced for a server that cannot start."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ValueError(f"cannot listen on {host}:{port}: {err}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            raise ValueError(
                f"cannot listen on {host}:{port}: {err.strerror or err}; another server may "
                "be running there: stop it or choose another --port"
            ) from None


def uvicorn_config(
    db_path: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    read_only: bool = False,
    log_level: str = "info",
    **app_options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration for serving ``db_path``; refuses an unsafe bind."""
    check_bind(host, token)
    app = create_app(db_path, token=token, read_only=read_only, **app_options)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        # The app answers oversized messages itself (with an error, keeping the connection);
        # this is only the hard ceiling past which the socket is closed.
        ws_max_size=4 * MiB,
        # Compressing each small event costs more CPU than the rest of sending it (a profile
        # under load: half the server's time in deflate); the stream is sent uncompressed.
        ws_per_message_deflate=False,
        # Lets the change stream write pre-encoded frames straight to the socket.
        ws=FramesProtocol,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        access_log=log_level == "debug",
    )


def serve(db_path: str | Path, **options: Any) -> None:
    """Serve ``db_path`` until interrupted (what ``chronodb serve`` runs)."""
    uvicorn.Server(uvicorn_config(db_path, **options)).run()


class BackgroundServer:
    """A server on a thread of this process, e.g. for tests and notebooks.

    ``port=0`` picks a free port; ``url`` and ``ws_url`` tell where it listens::

        with BackgroundServer("shop.db", port=0) as server:
            httpx.post(server.url + "/sql", json={"sql": "SELECT 1"})
    """

    def __init__(self, db_path: str | Path, *, port: int = 0, **options: Any) -> None:
        options.setdefault("log_level", "warning")
        self.config = uvicorn_config(db_path, port=port, **options)
        self.server = uvicorn.Server(self.config)
        self._thread = threading.Thread(target=self.server.run, name="chronodb-serve", daemon=True)
        self.port = port

    @property
    def app(self) -> Any:
        return self.config.app

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
