"""Control API basics, the request log, the virtual phone page, and the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from simulator import SimulatorServer
from tests.support.daraja_wire import SUCCESS_NUMBER, Daraja

ROOT = Path(__file__).resolve().parents[2]


def test_health(daraja: Daraja) -> None:
    assert daraja.control("GET", "/health").json() == {"status": "ok"}


def test_config_patch_and_unknown_key(daraja: Daraja) -> None:
    patched = daraja.control("PATCH", "/config", {"callback_delay_s": 0.5, "callback_mode": "drop"})
    assert patched.status_code == 200
    assert (patched.json()["callback_delay_s"], patched.json()["callback_mode"]) == (0.5, "drop")
    unknown = daraja.control("PATCH", "/config", {"callback_delay_s": 1, "colour": "red"})
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["error"]
    bad = daraja.control("PATCH", "/config", {"callback_mode": "sometimes"})
    assert bad.status_code == 400
    assert daraja.control("GET", "/config").json()["callback_mode"] == "drop"  # unchanged by failures
    assert "private_key_pem" not in daraja.control("GET", "/config").json()


def test_reset_restores_the_starting_config(daraja: Daraja, server: SimulatorServer) -> None:
    daraja.control("PATCH", "/config", {"customer_pin": "9999"})
    daraja.control("POST", "/reset")
    assert daraja.control("GET", "/config").json()["customer_pin"] == "1234"
    assert server.config.callback_delay_s == 0.02


def test_certificate_is_pem(daraja: Daraja) -> None:
    response = requests.get(f"{daraja.base}/simulator/certificate", timeout=5)
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("-----BEGIN CERTIFICATE-----")


def test_security_credential_helper_matches_the_certificate(daraja: Daraja) -> None:
    credential = daraja.control("POST", "/security-credential", {}).json()["SecurityCredential"]
    assert len(credential) == 344  # base64 of a 2048-bit RSA block


def test_request_log_masks_secrets(daraja: Daraja) -> None:
    daraja.stk_push(SUCCESS_NUMBER)
    daraja.post("/mpesa/b2c/v3/paymentrequest", daraja.b2c_body())
    stk = daraja.control("GET", "/requests?path=/mpesa/stkpush/v1/processrequest").json()
    assert len(stk) == 1
    assert stk[0]["method"] == "POST"
    assert stk[0]["status"] == 200
    assert stk[0]["body"]["Password"] == "***"
    assert stk[0]["body"]["PhoneNumber"] == SUCCESS_NUMBER
    b2c = daraja.control("GET", "/requests?path=/mpesa/b2c/v3/paymentrequest").json()
    assert b2c[0]["body"]["SecurityCredential"] == "***"
    everything = daraja.control("GET", "/requests").json()
    assert everything[0]["path"] == "/oauth/v1/generate"
    daraja.control("DELETE", "/requests")
    assert daraja.control("GET", "/requests").json() == []


def test_control_paths_are_not_logged_or_faulted(daraja: Daraja) -> None:
    daraja.control("POST", "/faults", {"path": "*", "kind": "status", "count": 5})
    assert daraja.control("GET", "/health").status_code == 200
    assert requests.get(f"{daraja.base}/phone", timeout=5).status_code == 200
    assert daraja.control("GET", "/requests").json() == []


def test_phone_page_has_the_stable_selectors(daraja: Daraja) -> None:
    response = requests.get(f"{daraja.base}/phone?msisdn=254712345678", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.text
    for marker in (
        'id="msisdn"',
        'id="watch"',
        'id="status"',
        '"prompt"',
        "data-checkout-request-id",
        '"pin"',
        '"accept"',
        '"cancel"',
        "/simulator/prompts?msisdn=",
        "URLSearchParams",
    ):
        assert marker in html, marker
    assert not re.search(r"""(src|href)=["']https?://""", html)  # no external assets


def test_prompts_need_an_msisdn(daraja: Daraja) -> None:
    assert daraja.control("GET", "/prompts").status_code == 400


def test_accept_needs_a_pin(daraja: Daraja) -> None:
    checkout = daraja.stk_push("254712345678")["CheckoutRequestID"]
    assert daraja.control("POST", f"/prompts/{checkout}/accept", {}).status_code == 400


def test_command_line_prints_its_url(tmp_path: Path) -> None:
    env = {**os.environ, "SIMULATOR_CALLBACK_DELAY_S": "0.01", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--certificate-out", str(tmp_path / "sim.pem")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Daraja simulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        base = match.group(1)
        assert requests.get(f"{base}/simulator/health", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{base}/simulator/config", timeout=5).json()["callback_delay_s"] == 0.01
        certificate = requests.get(f"{base}/simulator/certificate", timeout=5).text
        assert (tmp_path / "sim.pem").read_text() == certificate
    finally:
        process.terminate()
        process.wait(timeout=10)
