"""Messages between the stack and its worker processes: length-prefixed JSON over a socket.

Standard library only: the worker imports this before the handler, and nothing else of the stack.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # far above Lambda's 6 MB payload limit; guards a corrupt header


class ChannelClosed(Exception):
    """The other side closed the socket (or died)."""


def send(sock: socket.socket, message: dict[str, Any], default: Callable[[Any], Any] | None = None) -> None:
    """Encode first, then write: a value JSON cannot encode raises TypeError with nothing sent."""
    data = json.dumps(message, separators=(",", ":"), default=default).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any]:
    """The next message; raises ChannelClosed at end of stream, TimeoutError if the socket has a timeout."""
    (length,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if length > MAX_MESSAGE_BYTES:
        raise ChannelClosed(f"message of {length} bytes")
    message = json.loads(_read_exactly(sock, length))
    if not isinstance(message, dict):
        raise ChannelClosed("not a message")
    return message


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        try:
            chunk = sock.recv(size - len(chunks))
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ChannelClosed(str(exc)) from exc
        if not chunk:
            raise ChannelClosed("end of stream")
        chunks += chunk
    return bytes(chunks)
