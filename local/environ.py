"""Per-function environment variables for handlers that share one process.

Every Lambda function has its own environment on AWS; locally they all run in this process and share
its module state. Variables go into the real environment unless two functions give one variable
different values; those are an overlay that applies only to the thread running that function's
handler (and to its import), as are the Lambda runtime's own (AWS_LAMBDA_FUNCTION_NAME, ...).
`os.environ` is replaced by a `ScopedEnviron` that consults the calling thread's overlay first, so
`os.environ[...]`, `os.getenv`, pydantic-settings and boto3 all see the function's own values.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping


class ScopedEnviron(MutableMapping[str, str]):
    def __init__(self, base: MutableMapping[str, str]) -> None:
        self._base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, str] | None:
        overlay: dict[str, str] | None = getattr(self._local, "overlay", None)
        return overlay

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            return overlay[key]
        return self._base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            overlay[key] = value
        else:
            self._base[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            del overlay[key]
        else:
            del self._base[key]

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay() or {}
        yield from overlay
        yield from (key for key in self._base if key not in overlay)

    def __len__(self) -> int:
        overlay = self._overlay() or {}
        return len(overlay) + sum(1 for key in self._base if key not in overlay)

    def copy(self) -> dict[str, str]:
        return dict(self)

    @contextlib.contextmanager
    def scope(self, values: Mapping[str, str]) -> Iterator[None]:
        """Within the block, this thread sees `values` over the process environment."""
        previous = self._overlay()
        self._local.overlay = {**(previous or {}), **values}
        try:
            yield
        finally:
            self._local.overlay = previous


def install() -> ScopedEnviron:
    """Replace `os.environ` with a ScopedEnviron (once) and return it."""
    current = os.environ
    if isinstance(current, ScopedEnviron):
        return current
    scoped = ScopedEnviron(current)
    setattr(os, "environ", scoped)  # noqa: B010 (os.environ's declared type is os._Environ)
    return scoped


def split_common(environments: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(the shared process environment, each function's own overlay).

    The functions share one process and so their modules' state (a cache built from the environment
    by whichever function ran first is seen by all of them). So every variable goes into the shared
    environment unless two functions give it different values; only those conflicting variables
    are per-function overlays.
    """
    values: dict[str, set[str]] = {}
    for env in environments.values():
        for key, value in env.items():
            values.setdefault(key, set()).add(value)
    conflicting = {key for key, seen in values.items() if len(seen) > 1}
    common: dict[str, str] = {}
    for env in environments.values():
        common.update({key: value for key, value in env.items() if key not in conflicting})
    rest = {
        name: {key: value for key, value in env.items() if key in conflicting} for name, env in environments.items()
    }
    return common, rest
