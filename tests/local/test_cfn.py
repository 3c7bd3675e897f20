"""The template loader's short-form tags and the intrinsic resolver."""

import pytest

from local.cfn import Resolver, TemplateError, load_yaml, parameter_values

TEMPLATE_TEXT = """
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Stage: {Type: String, Default: dev}
  Ips: {Type: CommaDelimitedList, Default: "1.1.1.1,2.2.2.2"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Sizes: {dev: {memory: 128}, prod: {memory: 1024}}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn: {Type: AWS::Serverless::Function}
"""


def resolver(template, **overrides):
    return Resolver(
        template,
        parameters=parameter_values(template, overrides),
        stack_name="st",
        ref=lambda name: f"ref:{name}",
        get_att=lambda name, attribute: f"att:{name}.{attribute}",
    )


def test_short_form_tags_become_long_forms():
    data = load_yaml(
        "a: !Ref X\nb: !GetAtt Fn.Arn\nc: !GetAtt [Fn, Arn]\nd: !Sub 'x-${Y}'\ne: !Join [',', [p, q]]\n"
        "f: !If [C, 1, 2]\ng: !Select [0, !Split [',', 'a,b']]\nh: 2010-09-09\n"
    )
    assert data == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::GetAtt": ["Fn", "Arn"]},
        "d": {"Fn::Sub": "x-${Y}"},
        "e": {"Fn::Join": [",", ["p", "q"]]},
        "f": {"Fn::If": ["C", 1, 2]},
        "g": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "h": "2010-09-09",
    }


def test_an_unknown_tag_is_an_error_naming_it():
    with pytest.raises(TemplateError, match="!Bogus"):
        load_yaml("a: !Bogus x\n")


def test_refs_resolve_parameters_pseudo_parameters_and_resources():
    r = resolver(load_yaml(TEMPLATE_TEXT))
    assert r.resolve({"Ref": "Stage"}) == "dev"
    assert r.resolve({"Ref": "Ips"}) == ["1.1.1.1", "2.2.2.2"]
    assert r.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert r.resolve({"Ref": "AWS::StackName"}) == "st"
    assert r.resolve({"Ref": "Table"}) == "ref:Table"
    assert r.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "att:Fn.Arn"


def test_sub_join_select_split_findinmap_and_conditions():
    r = resolver(load_yaml(TEMPLATE_TEXT))
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Fn.Arn}-${!Literal}"}) == "st-dev-att:Fn.Arn-${Literal}"
    assert r.resolve({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Table"}}]}) == "ref:Table/dev"
    assert r.resolve({"Fn::Join": [";", {"Ref": "Ips"}]}) == "1.1.1.1;2.2.2.2"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "memory"]}) == 128
    assert r.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "small"
    assert r.condition("NotProd") is True
    prod = resolver(load_yaml(TEMPLATE_TEXT), Stage="prod")
    assert prod.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"


def test_no_value_removes_the_key_or_item():
    r = resolver(load_yaml(TEMPLATE_TEXT))
    value = {
        "keep": 1,
        "drop": {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]},
        "items": [1, {"Ref": "AWS::NoValue"}],
    }
    assert r.resolve(value) == {"keep": 1, "items": [1]}


def test_a_dangling_ref_is_an_error_naming_it_and_where():
    r = resolver(load_yaml(TEMPLATE_TEXT))
    with pytest.raises(TemplateError, match=r"Fn\.Environment: !Ref Nope names no parameter or resource"):
        r.resolve({"Ref": "Nope"}, "Fn.Environment")
    with pytest.raises(TemplateError, match=r"Nope\.Arn names no resource"):
        r.resolve({"Fn::GetAtt": ["Nope", "Arn"]})
