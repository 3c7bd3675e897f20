"""What is specific to this project's local stack: the Daraja sandbox secret, env overrides, the curl.

Everything else in `local/` reads the template generically.
"""

from __future__ import annotations

import json
import secrets
import string
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from local.template import Schedule

# Local defaults for variables a function declares: short timeout-flow waits so that a payment with
# no callback settles by query in seconds, yet the flow (5 s + 20 queries x 3 s = 65 s) outlasts the
# simulator's 60 s prompt, so a person on the virtual phone never sees UNKNOWN before their answer.
# Override any function variable with LOCAL_ENV_<NAME>.
LOCAL_ENV_DEFAULTS = {
    "STK_TIMEOUT_WAIT_SECONDS": "5",
    "STK_QUERY_INTERVAL_SECONDS": "3",
    "STK_QUERY_MAX_ATTEMPTS": "20",
    # Payouts: wait 5 s for the Result, then Transaction Status every 3 s, 5 times, then UNKNOWN.
    "B2C_RESULT_WAIT_SECONDS": "5",
    "B2C_STATUS_INTERVAL_SECONDS": "3",
    "B2C_STATUS_MAX_QUERIES": "5",
}
LOCAL_CALLER_IP = "127.0.0.1"
SWEEP_SCHEDULE = "PendingSweepFunction.Sweep"
C2B_REGISTER_ROUTE = "POST /v1/c2b/register"
CALLBACK_SECRET_LENGTH = 48


def callback_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(CALLBACK_SECRET_LENGTH))


def secret_values(
    simulator_config: Any, certificate_pem: str, callback_key: str, *, openapi_public_key: str | None = None
) -> dict[str, str]:
    """The sandbox credentials the simulator accepts, under the configuration names (README): Daraja's,
    and the OpenAPI's (Tanzania) when the simulator's public key is given."""
    openapi: dict[str, str] = {}
    if openapi_public_key is not None:
        openapi = {
            "MPESA_TZ_API_KEY": simulator_config.openapi_api_key,
            "MPESA_TZ_PUBLIC_KEY": openapi_public_key,
            "MPESA_TZ_SERVICE_PROVIDER_CODE": simulator_config.openapi_service_provider_code,
        }
    return {
        **openapi,
        "MMO_MPESA_CONSUMER_KEY": simulator_config.consumer_key,
        "MMO_MPESA_CONSUMER_SECRET": simulator_config.consumer_secret,
        "MMO_MPESA_BUSINESS_SHORT_CODE": simulator_config.stk_shortcode,
        "MMO_MPESA_PASSKEY": simulator_config.passkey,
        "MPESA_INITIATOR_NAME": simulator_config.initiator_name,
        "MPESA_INITIATOR_PASSWORD": simulator_config.initiator_password,
        "MPESA_B2C_SHORT_CODE": simulator_config.b2c_shortcode,
        "MPESA_PULL_NOMINATED_NUMBER": "0708374149",  # the sandbox test number: Pull Transactions registration
        "MPESA_CERTIFICATE_PEM": certificate_pem,
        "MPESA_CALLBACK_SECRET": callback_key,
    }


def function_environment(
    declared: Mapping[str, str],
    *,
    api_url: str,
    simulator_url: str | None,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """A function's template environment with the local stack's values over it."""
    env = dict(declared)
    for name, value in LOCAL_ENV_DEFAULTS.items():
        if name in env:
            env[name] = value
    if simulator_url is not None:
        env["MPESA_BASE_URL"] = simulator_url
        env["MPESA_TZ_BASE_URL"] = simulator_url  # the simulator also speaks Vodacom's OpenAPI
    env["MPESA_CALLBACK_BASE_URL"] = api_url
    allowed = env.get("MPESA_CALLBACK_ALLOWED_IPS")
    if allowed is not None and allowed.strip() != "*":
        ips = [ip for ip in allowed.split(",") if ip.strip()]
        if LOCAL_CALLER_IP not in ips:
            ips.append(LOCAL_CALLER_IP)  # the simulator calls back from loopback
        env["MPESA_CALLBACK_ALLOWED_IPS"] = ",".join(ips)
    env.update(overrides)
    return env


def sample_curl(api_url: str, *, tanzania: bool = False) -> str:
    body = (
        """{"phone_number":"255740000001","amount":"1500","account_reference":"ORDER2","""
        """"transaction_desc":"Test","country":"TZ"}"""
        if tanzania
        else """{"phone_number":"254708374149","amount":"10","account_reference":"ORDER1","transaction_desc":"Test"}"""
    )
    return (
        f"curl -X POST {api_url}/v1/payments/stk-push -H 'Content-Type: application/json' "
        '-H "Idempotency-Key: $(uuidgen 2>/dev/null || date +%s)" '
        f"-d '{body}'"
    )


def after_start(
    api_url: str, route_keys: Collection[str], simulator_url: str | None, log: Callable[[str], None]
) -> None:
    """Once the stack serves: register the C2B URLs with the simulator through the stack's own
    POST /v1/c2b/register (as `make register-c2b` does on AWS), so that a Pay Bill from the virtual
    phone reaches the stack. A failure is reported and leaves the rest of the stack running."""
    if simulator_url is None or C2B_REGISTER_ROUTE not in route_keys:
        return
    request = urllib.request.Request(  # noqa: S310 (the local front, on loopback)
        f"{api_url}/v1/c2b/register", data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        detail = exc.read().decode(errors="replace") if isinstance(exc, urllib.error.HTTPError) else str(exc)
        log(f"WARNING: C2B URLs not registered with the simulator ({detail}); POST {api_url}/v1/c2b/register")
        return
    log(
        f"C2B URLs registered with the simulator for shortcode {answer.get('short_code')} "
        f"({answer.get('api_version')}, ResponseType {answer.get('response_type')}): Pay Bill from the virtual phone"
    )


def local_schedules(schedules: Iterable[Schedule], sweep_every_s: int) -> list[Schedule]:
    """The template's schedules, the sweep's every `sweep_every_s` seconds rather than every minute: it is
    every payment's timer (it checks a payment still pending once its callback's 5 s wait is over), so
    the short local waits above mean what they say (`LOCAL_SWEEP_EVERY_SECONDS`, default 2)."""
    faster = f"rate({sweep_every_s} seconds)"
    return [replace(s, expression=faster) if s.name == SWEEP_SCHEDULE else s for s in schedules]
