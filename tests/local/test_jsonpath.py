"""JSONPath expressions are parsed once, for moto's Step Functions and EventBridge alike."""

import jsonpath_ng.ext

from local.jsonpath import parsed_once


def test_each_path_is_parsed_once_and_still_finds_the_same_values():
    from moto.stepfunctions.parser.asl.utils import json_path

    with parsed_once():
        first = json_path.parse("$.Payload.settled")
        assert json_path.parse("$.Payload.settled") is first
        assert json_path.extract_json("$.Payload.settled", {"Payload": {"settled": True}}) is True
        assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")  # EventBridge's look-up
        assert json_path.parse("$.other") is not first
    assert json_path.parse("$.Payload.settled") is not json_path.parse("$.Payload.settled")  # undone


def test_a_result_path_writes_into_a_copy_each_time():
    from moto.stepfunctions.parser.asl.component.common.path import result_path

    with parsed_once():
        expression = result_path.parse("$.resolution")
        first = expression.update_or_create({"a": 1}, {"n": 1})
        second = result_path.parse("$.resolution").update_or_create({"a": 2}, {"n": 2})
    assert first == {"a": 1, "resolution": {"n": 1}}
    assert second == {"a": 2, "resolution": {"n": 2}}
