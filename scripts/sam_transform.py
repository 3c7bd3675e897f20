"""Transform a SAM template into the CloudFormation that CloudFormation would deploy, offline.

Usage: .venv-sam/bin/python scripts/sam_transform.py template.yaml out.json

Runs the SAM translator that SAM CLI pins (.venv-sam), with no AWS credentials and no network:
- a fake region, account and stack name; every template parameter takes its default;
- managed policy ARNs come from the translator's bundled map (it asks IAM only for unknown names);
- local CodeUri/ContentUri/DefinitionUri paths become placeholder S3 locations, as `sam validate` does
  (nothing here reads the code).

Each resource's Metadata is passed to every resource SAM generates from it (the translator's
`passthrough_metadata`, as cfn-lint does), so a checkov suppression written on an
AWS::Serverless::Function also covers its role, permissions and schedule. Each resource of the output
also names the template resource it came from (Metadata `iac-scan: {source: <LogicalId>}`), so that
scripts/iac_scan.py can tell a suppression that matched nothing from one that did.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "mpesa-iac-scan"
SOURCE_KEY = "iac-scan"

# Properties that name local files, per resource type; the translator wants S3 locations.
_LOCAL_URIS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::Api": "DefinitionUri",
}


def _placeholder_uris(template: dict[str, Any]) -> None:
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = "s3://iac-scan-placeholder/code.zip"
    for logical_id, resource in template.get("Resources", {}).items():
        key = _LOCAL_URIS.get(resource.get("Type", ""))
        properties = resource.get("Properties") or {}
        if key and isinstance(properties.get(key), str):
            properties[key] = f"s3://iac-scan-placeholder/{logical_id}"


def _mark_sources(template: dict[str, Any]) -> None:
    for logical_id, resource in template.get("Resources", {}).items():
        metadata = resource.setdefault("Metadata", {})
        metadata[SOURCE_KEY] = {"source": logical_id}


def transform(template: dict[str, Any]) -> dict[str, Any]:
    _placeholder_uris(template)
    _mark_sources(template)
    session = boto3.session.Session(region_name=REGION)
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=session)

    def no_iam_lookup() -> dict[str, str]:
        raise RuntimeError("a managed policy is not in the translator's bundled map; this script never calls IAM")

    parameters = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": STACK_NAME}
    result: dict[str, Any] = translator.translate(
        template,
        parameter_values=parameters,
        passthrough_metadata=True,
        get_managed_policy_map=no_iam_lookup,
    )
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    template = yaml_parse(source.read_text(encoding="utf-8"))
    result = transform(template)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
