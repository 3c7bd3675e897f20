"""Each function's complete environment: what its worker processes start with, and nothing else.

On AWS a function sees its own variables and the Lambda runtime's, never another function's nor
the deployer's shell. Locally each function runs in its own processes (local.workers), so it gets:
a few variables of your shell that a process needs (PATH, HOME, locale, temp dir, proxies with
NO_PROXY, CA bundles), the local AWS (dummy credentials, the moto endpoint, no config files), the
function's own variables, and the Lambda runtime's (added by local.lambdas). No AWS_* variable and
no profile of your shell reaches a function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SHELL_PASSTHROUGH = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def no_proxy(environ: Mapping[str, str]) -> str:
    """NO_PROXY's value: what NO_PROXY/no_proxy already list, and the loopback names."""
    names: list[str] = []
    for variable in ("NO_PROXY", "no_proxy"):
        names.extend(name.strip() for name in environ.get(variable, "").split(","))
    names.extend(LOOPBACK_NAMES)
    return ",".join(dict.fromkeys(name for name in names if name))


def local_aws(endpoint: str, region: str) -> dict[str, str]:
    """The local AWS for boto3: moto's endpoint, dummy credentials, and no shared config or credentials file
    (a profile there could name another endpoint, region or credentials)."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def function_process_environment(
    shell: Mapping[str, str], aws: Mapping[str, str], function: Mapping[str, str]
) -> dict[str, str]:
    """A function's worker environment: the shell's basics, then the function's variables, then the local AWS."""
    environment = {key: value for key, value in shell.items() if key in SHELL_PASSTHROUGH or key.startswith("LC_")}
    environment["NO_PROXY"] = environment["no_proxy"] = no_proxy(shell)
    environment["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally (a function may say otherwise)
    environment.update(function)
    environment.update(aws)  # reserved on Lambda: a function cannot set these
    return environment
