"""DynamoDB request units (on-demand WRUs and RRUs) of one request, from the items it touched.

moto answers `ReturnConsumedCapacity` with a constant (1.0 or 0.5 whatever the item), so the benchmarks
compute units themselves from the item before and after each write, as DynamoDB documents them. Items
are in DynamoDB's wire format (`{"S": "x"}`, `{"N": "1"}`, ...), as they travel in requests.

Item size (what every unit is measured on)
  the sum over attributes of the UTF-8 length of the name plus the size of the value: a string is its
  UTF-8 length, binary its length in bytes, a number 1 byte per 2 significant digits + 1, a boolean or
  null 1 byte, a list or map 3 bytes + 1 byte per element + the elements (a map's names count), a set
  the sum of its members.

Writes (WRU: 1 per 1 KB of item, rounded up, at least 1)
  - PutItem / UpdateItem: the larger of the item before and after the write;
  - DeleteItem: the item deleted (1 if there was none);
  - a write whose condition failed: the existing item (1 if none), and no index writes;
  - TransactWriteItems: each action counts twice (prepare and commit), ConditionCheck included, as
    the price table says ("transactional writes count 2"); a cancelled transaction is charged like a
    failed conditional write, twice;
  - BatchWriteItem: each put or delete as above.
Global secondary indexes (same WRU price, on top of the table's units), per index, with the index entry
being the table's keys, the index's keys and the projected attributes (all of them for ALL, none more
for KEYS_ONLY, the listed ones for INCLUDE):
  - the item enters the index (it gains the index key): 1 put of the new entry;
  - the item leaves the index (loses the key, or is deleted): 1 delete of the old entry;
  - the index key changes: a delete and a put (2 writes);
  - same key, a projected attribute changes: 1 write of the larger entry;
  - nothing projected changes, or the item is in the index neither before nor after: nothing.
  GSI writes are not doubled by transactions (they are propagated asynchronously, not transacted).
Reads (RRU: 1 per 4 KB, rounded up, at least 1; eventually consistent reads cost half; transactional 2)
  - GetItem / BatchGetItem / TransactGetItems: each item's full size, whatever the projection;
  - Query / Scan: the summed size of every item evaluated (before any filter or projection), rounded up
    once per request; an index is read by its entries and only eventually consistently.
Local secondary indexes are not handled: the project's tables have none.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Item = Mapping[str, Any]  # attribute name -> wire-format value
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one wire-format attribute value, as DynamoDB sizes it."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(_binary(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in raw)
    if kind == "NS":
        return sum(number_size(str(n)) for n in raw)
    if kind == "BS":
        return sum(len(_binary(b)) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeros are not stored)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def _binary(raw: Any) -> bytes:
    return bytes(raw) if isinstance(raw, bytes | bytearray) else base64.b64decode(raw)


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units_for(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units_for(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    non_key: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)


@dataclass(frozen=True)
class TableSchema:
    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def key_of(self, item: Item) -> dict[str, Any]:
        return {k: item[k] for k in self.keys}

    def index(self, name: str) -> Index:
        return next(i for i in self.indexes if i.name == name)

    @classmethod
    def from_template(cls, name: str, properties: Mapping[str, Any]) -> TableSchema:
        """From an AWS::DynamoDB::Table's Properties (template.yaml)."""

        def keys(schema: Iterable[Mapping[str, str]]) -> tuple[str, str | None]:
            by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        indexes = []
        for gsi in properties.get("GlobalSecondaryIndexes", []):
            hash_key, range_key = keys(gsi["KeySchema"])
            projection = gsi.get("Projection", {})
            indexes.append(
                Index(
                    name=gsi["IndexName"],
                    hash_key=hash_key,
                    range_key=range_key,
                    projection=projection.get("ProjectionType", "ALL"),
                    non_key=tuple(projection.get("NonKeyAttributes", ())),
                )
            )
        hash_key, range_key = keys(properties["KeySchema"])
        return cls(name=name, hash_key=hash_key, range_key=range_key, indexes=tuple(indexes))


def index_entry(schema: TableSchema, index: Index, item: Item | None) -> dict[str, Any] | None:
    """The item's entry in `index`, or None when the item is not in it (sparse: it lacks a key)."""
    if not item or any(k not in item for k in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    wanted = {*schema.keys, *index.keys, *(index.non_key if index.projection == "INCLUDE" else ())}
    return {k: v for k, v in item.items() if k in wanted}


@dataclass
class Units:
    """Request units of one request (or a sum of them). WRUs are split into the table's and per index."""

    table_wru: float = 0.0
    index_wru: dict[str, float] = field(default_factory=dict)
    rru: float = 0.0

    @property
    def wru(self) -> float:
        return self.table_wru + sum(self.index_wru.values())

    def __add__(self, other: Units) -> Units:
        merged = dict(self.index_wru)
        for name, units in other.index_wru.items():
            merged[name] = merged.get(name, 0.0) + units
        return Units(self.table_wru + other.table_wru, merged, self.rru + other.rru)


def write_units(
    schema: TableSchema,
    before: Item | None,
    after: Item | None,
    *,
    transactional: bool = False,
    condition_failed: bool = False,
) -> Units:
    """Units of one put, update or delete (after=None) that turned `before` into `after`."""
    factor = 2 if transactional else 1
    if condition_failed:
        return Units(table_wru=factor * write_units_for(item_size(before)))
    table = factor * write_units_for(max(item_size(before), item_size(after)))
    indexes: dict[str, float] = {}
    for index in schema.indexes:
        units = index_write_units(schema, index, before, after)
        if units:
            indexes[index.name] = units
    return Units(table_wru=table, index_wru=indexes)


def index_write_units(schema: TableSchema, index: Index, before: Item | None, after: Item | None) -> int:
    old, new = index_entry(schema, index, before), index_entry(schema, index, after)
    if old is None and new is None:
        return 0
    if old is None:
        assert new is not None
        return write_units_for(item_size(new))
    if new is None:
        return write_units_for(item_size(old))
    if any(old[k] != new[k] for k in index.keys):
        return write_units_for(item_size(old)) + write_units_for(item_size(new))
    if old != new:
        return write_units_for(max(item_size(old), item_size(new)))
    return 0


def get_units(item: Item | None, *, consistent: bool, transactional: bool = False) -> float:
    """Units of reading one item by its key (GetItem, an item of BatchGetItem or TransactGetItems)."""
    if transactional:
        return 2 * read_units_for(item_size(item), consistent=True)
    return read_units_for(item_size(item), consistent=consistent)


def scan_units(evaluated: Iterable[Item], *, consistent: bool) -> float:
    """Units of one Query or Scan request: the items it evaluated (before filters), rounded up once."""
    return read_units_for(sum(item_size(i) for i in evaluated), consistent=consistent)
