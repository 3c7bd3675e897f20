"""`make register-c2b`: register a deployed stack's C2B URLs with Daraja, through the stack's own API.

Reads the stack's CloudFormation outputs (`C2bRegisterUrl`), then POSTs `{"short_code": ...}` to that
IAM-protected route, signed with SigV4 (service `execute-api`) with your AWS credentials. The stack
then calls Daraja's Register URL with its per-shortcode secret URLs and the configured ResponseType.
Prints the answer; exits 0 when the URLs are registered (or already were), 1 otherwise.

    python scripts/register_c2b.py --config-env sandbox [--short-code 600997]
    python scripts/register_c2b.py --stack-name my-stack --region eu-west-1

Production registers once: read docs/operations.md ("C2B URLs") before running it there.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

OUTPUT_KEY = "C2bRegisterUrl"
SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"
TIMEOUT_S = 35  # API Gateway answers within 30 s

Sender = Callable[[str, bytes, Mapping[str, str]], tuple[int, str]]


class RegisterError(Exception):
    """A problem the user can fix, said in one line."""


def stack_from_samconfig(config_env: str, path: Path = SAMCONFIG) -> tuple[str, str]:
    """(stack name, region) of a samconfig.toml environment (its `global.parameters`)."""
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegisterError(f"cannot read {path}: {exc}") from None
    parameters = config.get(config_env, {}).get("global", {}).get("parameters", {})
    name, region = parameters.get("stack_name"), parameters.get("region")
    if not name or not region:
        raise RegisterError(f"{path} has no stack_name and region for the {config_env!r} environment")
    return str(name), str(region)


def register_url(outputs: Sequence[Mapping[str, Any]], stack_name: str) -> str:
    """The register route's URL from the stack's outputs (DescribeStacks' `Outputs`)."""
    for output in outputs:
        if output.get("OutputKey") == OUTPUT_KEY and output.get("OutputValue"):
            return str(output["OutputValue"])
    raise RegisterError(f"stack {stack_name} has no {OUTPUT_KEY} output: deploy this version of template.yaml first")


def stack_outputs(cloudformation: Any, stack_name: str) -> list[Mapping[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise RegisterError(f"cannot describe stack {stack_name}: {message}") from None
    if not stacks:
        raise RegisterError(f"stack {stack_name} not found")
    return list(stacks[0].get("Outputs", []))


def signed_request(url: str, body: Mapping[str, Any], credentials: Any, region: str) -> tuple[bytes, dict[str, str]]:
    """The JSON body and the headers (SigV4 for execute-api) of the POST to `url`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    data = json.dumps(body, separators=(",", ":")).encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return data, dict(request.headers.items())


def send(url: str, data: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=dict(headers), method="POST")  # noqa: S310 (https URL from the stack)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def main(
    argv: Sequence[str] | None = None,
    *,
    session_factory: Callable[[str], Any] | None = None,
    sender: Sender = send,
) -> int:
    parser = argparse.ArgumentParser(description="Register a deployed stack's C2B URLs with Daraja.")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument("--stack-name", help="overrides the samconfig stack_name")
    parser.add_argument("--region", help="overrides the samconfig region")
    parser.add_argument("--short-code", help="one of the stack's C2bShortCodes (default: the first)")
    args = parser.parse_args(argv)
    try:
        stack_name, region = args.stack_name, args.region
        if not stack_name or not region:
            default_name, default_region = stack_from_samconfig(args.config_env)
            stack_name, region = stack_name or default_name, region or default_region
        session = (session_factory or _boto3_session)(region)
        url = register_url(stack_outputs(session.client("cloudformation"), stack_name), stack_name)
        credentials = session.get_credentials()
        if credentials is None:
            raise RegisterError("no AWS credentials: configure a profile or environment variables")
        body = {"short_code": args.short_code} if args.short_code else {}
        data, headers = signed_request(url, body, credentials.get_frozen_credentials(), region)
        status, answer = sender(url, data, headers)
    except RegisterError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"POST {url} -> {status}\n{answer}\n")
    return 0 if status == 200 else 1


def _boto3_session(region: str) -> Any:
    import boto3

    return boto3.Session(region_name=region)


if __name__ == "__main__":
    sys.exit(main())
