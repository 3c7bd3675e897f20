"""Parse each JSONPath once: moto's Step Functions and EventBridge parse them on every use.

`jsonpath_ng.parse` builds its yacc parser tables on every call (milliseconds each), and moto calls it
for every InputPath/ResultSelector/ResultPath of every state, and for every event a rule delivers: the
largest single cost of the local stack's process under load. A parsed expression is only read when
it is evaluated, so one object per path text serves every caller.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

CACHED_PATHS = 4096


def _cached(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    @functools.lru_cache(maxsize=CACHED_PATHS)
    def cached(path: str) -> Any:
        return parse(path)

    def parse_once(path: Any) -> Any:
        return cached(path) if isinstance(path, str) else parse(path)

    return parse_once


@contextlib.contextmanager
def parsed_once() -> Iterator[None]:
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    # Where moto looks the function up: module attributes bound at import, and jsonpath_ng.ext.parse,
    # which moto's EventBridge imports at each call.
    targets = [(jsonpath_ng.ext, "parse"), (json_path, "parse"), (result_path, "parse")]
    originals = [(module, name, getattr(module, name)) for module, name in targets]
    for module, name, original in originals:
        setattr(module, name, _cached(original))
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
