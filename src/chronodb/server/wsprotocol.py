"""uvicorn's WebSocket protocol, plus a way for the app to write whole frames to the socket.

Through ASGI every message is a ``send`` of its own, and with many subscribers of a busy
table that per-message cost is most of the server's work. The change stream
instead writes a poll's pre-encoded frames (``server/frames.py``) to each connection in one
``transport.write``, through the :class:`FrameWriter` this protocol puts in the connection's
ASGI scope (extension ``chronodb.websocket.frames``). An app that finds no such extension
(another server, starlette's TestClient) sends text messages as usual.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from chronodb.server.frames import EXTENSION


class FrameWriter:
    """Writes whole frames to one accepted WebSocket, between the protocol's own messages."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: FramesProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        """Accepted and neither closing nor closed: frames may still be sent."""
        p = self._protocol
        return (
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and p.initial_response is None
            and not p.transport.is_closing()
        )

    def write(self, frames: bytes) -> bool:
        """Write now if the socket is open and its buffer below the high-water mark.

        False means nothing was written: keep the frames, and :meth:`wait` before trying again.
        """
        p = self._protocol  # accepted (the app only writes after accepting), so 3 checks
        if p.close_sent or p.disconnected or not p.writable.is_set():
            return False
        transport = p.transport
        if transport.is_closing():
            return False
        transport.write(frames)
        return True

    async def wait(self) -> None:
        """Until the socket's buffer has drained below the low-water mark, or it closed."""
        await self._protocol.writable.wait()


class FramesProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering the app a :class:`FrameWriter`."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            # The app's task is created but has not run yet: it sees the extension.
            self.scope["extensions"][EXTENSION] = {"writer": FrameWriter(self)}
