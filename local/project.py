"""What is specific to this project's local stack: the Daraja sandbox secret, env overrides, the curl.

Everything else in `local/` reads the template generically.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

# Local defaults for variables a function declares: short timeout-flow waits so that a payment with
# no callback settles by query in seconds, yet the flow (5 s + 20 queries x 3 s = 65 s) outlasts the
# simulator's 60 s prompt, so a person on the virtual phone never sees UNKNOWN before their answer.
# Override any function variable with LOCAL_ENV_<NAME>.
LOCAL_ENV_DEFAULTS = {
    "STK_TIMEOUT_WAIT_SECONDS": "5",
    "STK_QUERY_INTERVAL_SECONDS": "3",
    "STK_QUERY_MAX_ATTEMPTS": "20",
}
LOCAL_CALLER_IP = "127.0.0.1"
CALLBACK_SECRET_LENGTH = 48


def callback_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(CALLBACK_SECRET_LENGTH))


def secret_values(simulator_config: Any, certificate_pem: str, callback_key: str) -> dict[str, str]:
    """The sandbox credentials the simulator accepts, under the configuration names (README)."""
    return {
        "MMO_MPESA_CONSUMER_KEY": simulator_config.consumer_key,
        "MMO_MPESA_CONSUMER_SECRET": simulator_config.consumer_secret,
        "MMO_MPESA_BUSINESS_SHORT_CODE": simulator_config.stk_shortcode,
        "MMO_MPESA_PASSKEY": simulator_config.passkey,
        "MPESA_INITIATOR_NAME": simulator_config.initiator_name,
        "MPESA_INITIATOR_PASSWORD": simulator_config.initiator_password,
        "MPESA_B2C_SHORT_CODE": simulator_config.b2c_shortcode,
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
    env["MPESA_CALLBACK_BASE_URL"] = api_url
    allowed = env.get("MPESA_CALLBACK_ALLOWED_IPS")
    if allowed is not None and allowed.strip() != "*":
        ips = [ip for ip in allowed.split(",") if ip.strip()]
        if LOCAL_CALLER_IP not in ips:
            ips.append(LOCAL_CALLER_IP)  # the simulator calls back from loopback
        env["MPESA_CALLBACK_ALLOWED_IPS"] = ",".join(ips)
    env.update(overrides)
    return env


def sample_curl(api_url: str) -> str:
    return (
        f"curl -X POST {api_url}/v1/payments/stk-push -H 'Content-Type: application/json' "
        '-H "Idempotency-Key: $(uuidgen 2>/dev/null || date +%s)" '
        """-d '{"phone_number":"254708374149","amount":"10","account_reference":"ORDER1","""
        """"transaction_desc":"Test"}'"""
    )
