"""moto's DynamoDB, made atomic and cheap enough for a local stack that runs all day.

* **One operation at a time.** moto evaluates a ConditionExpression and then applies the write
  without a lock, so two concurrent conditional writes can both win, which DynamoDB never allows
  (a soak saw payments publish two final events). Every DynamoDB request moto serves runs under one
  lock, from parsing to response: writes, reads, batches, transactions and PartiQL statements all
  see each other whole, as tests/support/stack.py `atomic_dynamodb` does for in-process moto.
* **A transaction snapshots what it touches.** moto's TransactWriteItems deep-copies every table it
  names before it starts, so that it can roll back: whole-table work on every call, which grew with
  the table (tens of ms, and memory churn, per payment). This version keeps a copy of each item it is
  about to change, and on cancellation puts those back (and drops the stream records it added).
  Everything else (validation, condition checks, cancellation reasons) is moto's behaviour.
* **A query reads what it can match.** moto's Query starts from every item of the table, sorted
  (tens of thousands of Python comparisons once a day of payments is stored), then keeps those with
  the key and sorts them again. A table query now starts from its partition only, and an index query
  from the items whose string key attributes hold the query's values, unsorted; moto then applies
  its key conditions and sorts what it keeps, so results and pages are moto's.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_lock = threading.RLock()


@contextlib.contextmanager
def serialised_dynamodb() -> Iterator[threading.RLock]:
    """Every DynamoDB request moto serves holds the lock (returned, for tests)."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _lock:
            return original(self)

    setattr(DynamoHandler, "call_action", call_action)  # noqa: B010
    try:
        yield _lock
    finally:
        setattr(DynamoHandler, "call_action", original)  # noqa: B010


@dataclass
class _Snapshot:
    """An item as it was before a transaction changed it (None: it did not exist)."""

    table: Any
    hash_value: Any
    range_value: Any
    item: Any
    stream_length: int | None

    def restore(self) -> None:
        table = self.table
        ranged = table.range_key_attr is not None
        if self.item is None:
            if ranged:
                table.items.get(self.hash_value, {}).pop(self.range_value, None)
            else:
                table.items.pop(self.hash_value, None)
        elif ranged:
            table.items[self.hash_value][self.range_value] = self.item
        else:
            table.items[self.hash_value] = self.item
        shard = table.stream_shard
        if shard is not None and self.stream_length is not None and len(shard.items) >= self.stream_length:
            del shard.items[self.stream_length :]


def _snapshot(backend: Any, table_name: str, key: dict[str, Any]) -> _Snapshot:
    table = backend.get_table(table_name)
    hash_value, range_value = backend.get_keys_value(table, key)
    current = table.get_item(hash_value, range_value)
    shard = table.stream_shard
    return _Snapshot(
        table, hash_value, range_value, copy.deepcopy(current), None if shard is None else len(shard.items)
    )


def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems with an item-level rollback journal instead of whole-table copies."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal: list[_Snapshot] = []
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []

    def roll_back() -> None:
        for snapshot in reversed(journal):
            snapshot.restore()

    for entry in transact_items:
        if len(entry) > 1:
            roll_back()
            raise TransactWriteSingleOpException
        original_item: dict[str, Any] | None = None
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = backend.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                journal.append(_snapshot(backend, table_name, key))
            if op_type == "Put":
                backend.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                backend.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                backend.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
        except Exception as exc:  # noqa: BLE001 (moto reports any other failure as the item's reason)
            errors.append((type(exc).__name__, str(exc), original_item))
    if any(code is not None for code, _, _ in errors):
        roll_back()
        raise TransactionCanceledException(errors)


@contextlib.contextmanager
def item_level_transactions() -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    setattr(DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010
    try:
        yield
    finally:
        setattr(DynamoDBBackend, "transact_write_items", original)  # noqa: B010


_query = threading.local()  # what a query reads: its table, partition key, and an index's key values


def _candidates(table: Any, hash_key: Any, index_keys: list[tuple[str, Any]]) -> list[Any]:
    """The items a query can match: its partition's, or on an index those whose string key attributes
    are the query's (compared as stored: moto then applies its own key conditions to them)."""
    if hash_key is not None:
        partition = table.items.get(hash_key)  # .get: the items are a defaultdict
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr is not None else [partition]
    items = (
        table.items.values()
        if table.range_key_attr is None
        else (item for partition in table.items.values() for item in partition.values())
    )
    # Only strings: their stored form is their value (a number's is not: "1" equals "1.0"). One tight
    # pass over the items for the first key; the others (a composite key) on what is left.
    strings = [(name, value.value) for name, value in index_keys if value.type == "S"]
    if not strings:
        return list(items)
    (name, wanted), others = strings[0], strings[1:]
    found = [item for item in items if (value := item.attrs.get(name)) is not None and value.value == wanted]
    return [item for item in found if all(_is_string(item, other, value) for other, value in [strings[0], *others])]


def _is_string(item: Any, name: str, wanted: str) -> bool:
    value = item.attrs.get(name)
    return value is not None and value.type == "S" and value.value == wanted


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    from moto.dynamodb.models.table import Table

    original_all_items, original_query = Table.all_items, Table.query

    def all_items(self: Any) -> list[Any]:
        if getattr(_query, "table", None) is not self:
            return original_all_items(self)  # a scan, an export...: moto's order
        return _candidates(self, _query.hash_key, _query.index_keys)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        _query.table = self
        _query.hash_key = hash_key if index_name is None else None
        _query.index_keys = list(kwargs.get("hash_key_conditions") or []) if index_name is not None else []
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query.table = _query.hash_key = _query.index_keys = None

    setattr(Table, "all_items", all_items)  # noqa: B010
    setattr(Table, "query", query)  # noqa: B010
    try:
        yield
    finally:
        setattr(Table, "all_items", original_all_items)  # noqa: B010
        setattr(Table, "query", original_query)  # noqa: B010


@contextlib.contextmanager
def local_dynamodb() -> Iterator[None]:
    """All three changes, for the local stack's moto server."""
    with serialised_dynamodb(), item_level_transactions(), partition_queries():
        yield
