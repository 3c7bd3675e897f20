"""The deadline-bounded adapter over real TLS (Daraja is HTTPS): answers read whole, trickles cut off."""

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mpesa.clock import Deadline
from mpesa.daraja.transport import RetryKind, RetryPolicy, call_budget, session_for
from tests.support.daraja import rsa_key_and_certificate


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key, cert = rsa_key_and_certificate(for_ip="127.0.0.1")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _app(environ, start_response):
    request = Request(environ)
    if request.path == "/trickle":

        def drip() -> Iterator[bytes]:
            for _ in range(10):
                yield b" "
                time.sleep(0.15)

        return Response(drip(), content_type="application/json")(environ, start_response)
    return Response('{"ResponseCode": "0"}', content_type="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server("127.0.0.1", 0, _app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", cert
    server.shutdown()


def test_an_answer_over_tls_is_read_whole(tls_server):
    url, cert = tls_server
    session = session_for(RetryPolicy(RetryKind.CONNECT_ONLY))
    with call_budget(Deadline.within(10), attempt_s=5):
        answer = session.post(url + "/ok", json={}, timeout=(2, 5), verify=str(cert))
    assert answer.json() == {"ResponseCode": "0"}


def test_a_trickling_tls_answer_stops_at_the_deadline(tls_server):
    url, cert = tls_server
    session = session_for(RetryPolicy(RetryKind.CONNECT_ONLY))
    # Each byte comes well within the 5 s read timeout, so only the deadline can cut the answer off:
    with pytest.raises(requests.RequestException), call_budget(Deadline.within(0.5), attempt_s=0.5):
        session.post(url + "/trickle", json={}, timeout=(2, 5), verify=str(cert)).content  # noqa: B018
    # ...and with time enough, the same trickle is read whole.
    with call_budget(Deadline.within(20), attempt_s=10):
        body = session.post(url + "/trickle", json={}, timeout=(2, 5), verify=str(cert)).content
    assert body == b" " * 10
