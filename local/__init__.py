"""The local stack behind `make run`: `python -m local` (see docs/local-stack.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# template.yaml's Lambda runtime; the handlers use its syntax, so the stack runs on it only.
REQUIRED_PYTHON = (3, 12)


def python_mismatch(version: Sequence[int] | None = None, executable: str | None = None) -> str | None:
    """One line saying why this Python (or `version`) cannot run the local stack; None if it can."""
    version = sys.version_info[:3] if version is None else tuple(version)
    if version[:2] == REQUIRED_PYTHON:
        return None
    wanted = ".".join(map(str, REQUIRED_PYTHON))
    found = ".".join(map(str, version[:3]))
    return (
        f"error: the local stack needs Python {wanted} (the Lambda runtime), not {found}"
        f" ({executable or sys.executable}): run `make run`, which uses .venv"
    )
