"""Daraja's synchronous error body ``{"requestId", "errorCode", "errorMessage"}`` as an exception."""

from __future__ import annotations

from typing import Any

from simulator.ids import request_id

# Error codes used by the simulator (see simulator/README.md for the HTTP status of each).
INVALID_FIELD = "400.002.02"
INVALID_PAYLOAD = "400.002.05"
OAUTH_BAD_AUTH_TYPE = "400.008.01"
OAUTH_BAD_GRANT = "400.008.02"
INVALID_TOKEN = "404.001.03"
INVALID_AUTH_HEADER = "404.001.04"
RESOURCE_NOT_FOUND = "404.001.01"
OVERLOADED = "500.001.1001"
DUPLICATE_OCID = "500.002.1001"
INTERNAL_ERROR = "500.003.1001"


class DarajaError(Exception):
    """A synchronous Daraja error: HTTP status plus error code and message."""

    def __init__(self, status: int, code: str, message: str, request_id_value: str | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id_value or request_id()

    def body(self) -> dict[str, Any]:
        return {"requestId": self.request_id, "errorCode": self.code, "errorMessage": self.message}


def invalid(field: str) -> DarajaError:
    """``400.002.02 Bad Request - Invalid <Field>``."""
    return DarajaError(400, INVALID_FIELD, f"Bad Request - Invalid {field}")


def bad_payload() -> DarajaError:
    return DarajaError(400, INVALID_PAYLOAD, "Invalid request payload")


class ControlError(Exception):
    """An error of the control API (not Daraja-shaped): ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
