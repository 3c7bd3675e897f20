"""moto remembers every model object it ever made; the local stack lets it remember only live ones.

Every moto model (a DynamoDB item, each copy moto makes of one to evaluate an update or build a
response, an SQS message, an EventBridge event, ...) is appended to its class's `instances_tracked`
list, for moto's dashboard (`/moto-api/`), and never removed: the local stack's memory grew with
every request, long after DynamoDB had replaced or deleted the item. The lists now hold weak
references: the dashboard still lists every object that exists.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Iterator
from typing import Any


class WeakInstances:
    """A stand-in for moto's list: `append` and iteration, without keeping anything alive. Keyed by id
    (many models are unhashable); an entry goes when its object does, before the id can be reused."""

    def __init__(self, instances: Iterable[Any] = ()) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}
        for instance in instances:
            self.append(instance)

    def append(self, instance: Any) -> None:
        key = id(instance)

        def forget(_: weakref.ref[Any]) -> None:
            self._refs.pop(key, None)

        with contextlib.suppress(TypeError):  # a class with __slots__ and no __weakref__: not listed
            self._refs[key] = weakref.ref(instance, forget)

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self._refs.values()):
            instance = ref()
            if instance is not None:
                yield instance

    def __len__(self) -> int:
        return len(self._refs)


@contextlib.contextmanager
def weakly_tracked_models() -> Iterator[None]:
    from moto.core.common_models import BaseModel

    original_new = BaseModel.__new__

    def __new__(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        # Each model class gets its own list when moto defines it (some only when first imported).
        if type(cls.__dict__.get("instances_tracked")) is list:
            cls.instances_tracked = WeakInstances(cls.__dict__["instances_tracked"])
        return original_new(cls, *args, **kwargs)

    setattr(BaseModel, "__new__", __new__)  # noqa: B010
    try:
        yield
    finally:
        setattr(BaseModel, "__new__", original_new)  # noqa: B010
