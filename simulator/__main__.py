"""``python -m simulator --port N [--host 127.0.0.1]``: run the simulator until interrupted.

Configuration comes from ``SIMULATOR_<FIELD>`` environment variables (see simulator/README.md).
Prints exactly one line, ``Daraja simulator listening on <url>``, once the port is bound (and, on
stderr, a warning when ``--host`` is not a loopback address: the control API is unauthenticated).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer

EXPOSED_WARNING = (
    "WARNING: the simulator is listening on {host}, not on loopback. Its control API (/simulator/*) "
    "has no authentication: anyone who can reach this address can read the consumer key/secret, "
    "passkey and initiator password (GET /simulator/config), sign SecurityCredentials, and change or "
    "reset the simulator. Bind to 127.0.0.1 unless you need remote access on a trusted network.\n"
)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1); False for 0.0.0.0, LAN IPs, names."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Daraja sandbox simulator")
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "0")))
    parser.add_argument("--log-requests", action="store_true", help="print an access log line per request")
    parser.add_argument(
        "--private-key-file", type=Path, help="PEM RSA key to use instead of a fresh one (stable certificate)"
    )
    parser.add_argument("--certificate-out", type=Path, help="write the certificate (PEM) to this file at start")
    args = parser.parse_args(argv)

    if not is_loopback(args.host):
        sys.stderr.write(EXPOSED_WARNING.format(host=args.host))
        sys.stderr.flush()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {}
    if args.private_key_file is not None:
        overrides["private_key_pem"] = args.private_key_file.read_text(encoding="ascii")
    config = SimulatorConfig.from_env(**overrides)
    server = SimulatorServer(host=args.host, port=args.port, config=config, log_requests=args.log_requests)
    if args.certificate_out is not None:
        args.certificate_out.write_text(server.certificate_pem, encoding="ascii")
    sys.stdout.write(f"Daraja simulator listening on {server.url}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
