"""The DynamoDB request-unit calculator of the benchmarks, on items of known size."""

import base64

import pytest

from benchmarks.dynamo_units import (
    Index,
    TableSchema,
    get_units,
    index_entry,
    item_size,
    number_size,
    scan_units,
    value_size,
    write_units,
)

SCHEMA = TableSchema(
    name="T",
    hash_key="pk",
    indexes=(
        Index("by-ref", "ref", projection="ALL"),
        Index("by-day", "day", "created_at", projection="KEYS_ONLY"),
        Index("by-pending", "bucket", "next_at", projection="INCLUDE", non_key=("status",)),
    ),
)


def s(text):
    return {"S": text}


def padded(pk, size, **attrs):
    """An item of exactly `size` bytes: pk, the given attributes, and a filler string."""
    item = {"pk": s(pk), **{k: s(v) for k, v in attrs.items()}}
    filler = size - item_size(item) - len("pad")
    assert filler >= 0
    return {**item, "pad": s("x" * filler)}


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (s("abc"), 3),
        (s("é"), 2),
        ({"N": "123"}, 3),
        ({"N": "-0012.3400"}, 3),
        ({"N": "0"}, 2),
        ({"B": base64.b64encode(b"\x00\x01\x02").decode()}, 3),
        ({"B": b"\x00\x01"}, 2),
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["a", "bc"]}, 3),
        ({"L": [s("ab"), {"N": "1"}]}, 3 + (1 + 2) + (1 + 2)),
        ({"M": {"k": s("ab")}}, 3 + 1 + 1 + 2),
    ],
)
def test_value_sizes(value, size):
    assert value_size(value) == size


def test_number_size_counts_significant_digits():
    assert number_size("1234567") == 5
    assert number_size("1.5E+3") == 2


def test_item_size_counts_names_and_values():
    assert item_size({"pk": s("txn#1"), "amount": {"N": "123"}}) == 2 + 5 + 6 + 3
    assert item_size({"amount": {"N": "100"}}) == 6 + 2  # trailing zeros are not stored
    assert item_size(None) == 0


def test_put_of_a_new_item_outside_every_index_is_its_size_in_kb():
    assert write_units(SCHEMA, None, padded("a", 1024)).wru == 1
    assert write_units(SCHEMA, None, padded("a", 1025)).wru == 2


def test_update_costs_the_larger_of_before_and_after():
    before, after = padded("a", 3000), padded("a", 500)
    assert write_units(SCHEMA, before, after).table_wru == 3
    assert write_units(SCHEMA, after, before).table_wru == 3


def test_transactional_writes_count_twice_but_not_their_index_writes():
    units = write_units(SCHEMA, None, padded("a", 900, ref="r1"), transactional=True)
    assert units.table_wru == 2
    assert units.index_wru == {"by-ref": 1}


def test_entering_a_sparse_index_is_one_put_per_index():
    units = write_units(SCHEMA, None, padded("a", 600, ref="r", day="d", created_at="c", bucket="b", next_at="n"))
    assert units.table_wru == 1
    assert units.index_wru == {"by-ref": 1, "by-day": 1, "by-pending": 1}
    assert units.wru == 4


def test_leaving_an_index_is_one_delete():
    before = padded("a", 600, bucket="b", next_at="n", status="PENDING")
    after = {k: v for k, v in before.items() if k not in ("bucket", "next_at")} | {"status": s("SUCCESS")}
    assert write_units(SCHEMA, before, after).index_wru == {"by-pending": 1}


def test_changing_an_index_key_is_a_delete_and_a_put():
    before = padded("a", 600, bucket="b", next_at="n1")
    after = {**before, "next_at": s("n2")}
    assert write_units(SCHEMA, before, after).index_wru == {"by-pending": 2}


def test_keys_only_index_ignores_non_key_changes_all_index_does_not():
    before = padded("a", 600, ref="r", day="d", created_at="c")
    after = {**before, "pad": s("y" * 10)}
    assert write_units(SCHEMA, before, after).index_wru == {"by-ref": 1}


def test_include_index_is_written_when_a_projected_attribute_changes():
    before = padded("a", 600, bucket="b", next_at="n", status="PENDING", note="x")
    assert write_units(SCHEMA, before, {**before, "note": s("y")}).index_wru == {}
    assert write_units(SCHEMA, before, {**before, "status": s("SUCCESS")}).index_wru == {"by-pending": 1}


def test_index_entry_size_is_what_the_index_projects():
    item = padded("a", 3000, bucket="b", next_at="n", status="PENDING")
    entry = index_entry(SCHEMA, SCHEMA.index("by-pending"), item)
    assert entry == {"pk": s("a"), "bucket": s("b"), "next_at": s("n"), "status": s("PENDING")}
    big_projection = write_units(SCHEMA, None, item)
    assert big_projection.table_wru == 3
    assert big_projection.index_wru == {"by-pending": 1}


def test_failed_condition_costs_the_existing_item_and_no_index_write():
    before = padded("a", 1500, ref="r")
    assert write_units(SCHEMA, before, None, condition_failed=True).wru == 2
    assert write_units(SCHEMA, None, None, condition_failed=True).wru == 1
    assert write_units(SCHEMA, before, None, transactional=True, condition_failed=True).wru == 4


def test_delete_costs_the_deleted_item_and_its_index_entries():
    units = write_units(SCHEMA, padded("a", 100, ref="r"), None)
    assert (units.table_wru, units.index_wru) == (1, {"by-ref": 1})


def test_reads_round_up_to_4kb_and_eventual_reads_cost_half():
    assert get_units(padded("a", 4096), consistent=True) == 1
    assert get_units(padded("a", 4097), consistent=True) == 2
    assert get_units(padded("a", 100), consistent=False) == 0.5
    assert get_units(None, consistent=True) == 1
    assert get_units(padded("a", 100), consistent=True, transactional=True) == 2


def test_query_sums_the_items_before_rounding():
    items = [padded(str(n), 1000) for n in range(5)]
    assert scan_units(items, consistent=False) == 1.0  # 5,000 bytes: 2 units, halved
    assert scan_units([], consistent=True) == 1


def test_schema_from_the_template_properties():
    props = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by-day",
                "KeySchema": [
                    {"AttributeName": "day", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }
    schema = TableSchema.from_template("T", props)
    assert schema.keys == ("pk",)
    assert schema.indexes == (Index("by-day", "day", "created_at", "KEYS_ONLY"),)
