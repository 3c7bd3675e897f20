"""Lazy exports for the package's `__init__` modules: a name loads its module on first access.

    __getattr__ = lazy_exports(__name__, {"MpesaService": "mpesa.service", ...})

A module-level `__getattr__` (PEP 562) is called only for names the package does not have yet, so
`import mpesa.flows.stk` imports none of the flow until one of its names is used; the package lists the
same names under TYPE_CHECKING for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` serving each of `exports` (name -> the module defining it)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__
