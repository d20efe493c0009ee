"""Pre-encoded WebSocket frames: a change's frame is built once for all its subscribers.

Server-to-client frames are not masked (RFC 6455 5.1) and the stream is sent uncompressed,
so the frame of one event is the same bytes on every connection. ``server/wsprotocol.py``
lets the stream write such bytes to the socket directly.
"""

from __future__ import annotations

EXTENSION = "chronodb.websocket.frames"  # the ASGI scope extension holding a FrameWriter
_TEXT = 0x81  # FIN + text opcode


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked text frame (a server's)."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        return bytes((_TEXT, n)) + payload
    if n < 65536:
        return bytes((_TEXT, 126)) + n.to_bytes(2, "big") + payload
    return bytes((_TEXT, 127)) + n.to_bytes(8, "big") + payload
