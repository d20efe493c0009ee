"""Pre-encoded frames: the bytes a client's WebSocket parser reads as the same text."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from chronodb.server.frames import text_frame


def parse(data: bytes) -> Frame:
    """Read one frame the way a websockets client does (server frames are not masked)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        while True:
            next(parser)
    except StopIteration as done:
        return done.value


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_every_length_encoding_reads_back(size: int):
    text = "x" * size
    frame = parse(text_frame(text))
    assert frame.opcode is Opcode.TEXT and frame.fin
    assert frame.data.decode() == text


def test_length_counts_utf8_bytes_not_characters():
    text = "Zoë 東京 " * 20  # 9 characters, 13 bytes each time
    data = text_frame(text)
    assert data[1] == 126 and int.from_bytes(data[2:4], "big") == len(text.encode())
    assert parse(data).data.decode() == text
