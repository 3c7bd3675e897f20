"""Every domain error, in one hierarchy that says what happened to the money.

- `RefusedError`: nothing moved. The request was refused before it could move money (bad input,
  configuration, a conflict, an unknown record) or surely never reached M-Pesa (`NotSentError`):
  the caller may fix it and try again.
- `MayHaveMovedError`: the outcome is unknown. The request may have been processed; it is never
  re-sent, and a query (STK query, Transaction Status) or reconciliation decides.
- `MovedError`: money moved, but not as the record expected (a receipt already claimed by another
  record): kept, flagged and announced for a person, never undone silently.
- `UnavailableError`: M-Pesa could not answer a question now (a query, not a money movement): ask
  again later.

The edge maps these to HTTP statuses in one place (`mpesa.edge.http`); the Daraja client's own errors
(`mpesa.daraja.errors`) subclass them.
"""


class MpesaError(Exception):
    """Base of every domain error."""


class RefusedError(MpesaError):
    """Nothing moved: the request was refused, or never left."""


class MayHaveMovedError(MpesaError):
    """The request may have moved money; its outcome is unknown. Never re-send it: resolve it by query."""


class MovedError(MpesaError):
    """Money moved, but not as the record expected: kept and flagged for review."""


class UnavailableError(MpesaError):
    """M-Pesa could not answer now (a query or a lookup): try again later."""


class InputError(RefusedError, ValueError):
    """A value supplied by a caller (HTTP body, webhook, SDK argument) is not acceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CallbackPayloadError(InputError):
    """A callback body is not what M-Pesa sends; `field` says where (e.g. `Body.stkCallback.ResultCode`)."""


class ConfigurationError(RefusedError):
    """A setting is missing or malformed. The message names settings, never their values."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.problems.items()))
        super().__init__(f"invalid configuration: {listed}")


class NotFoundError(RefusedError, LookupError):
    """No record with this id."""


class ConflictError(RefusedError):
    """The request clashes with an earlier one (an idempotency key used for another request)."""


class RequestInProgressError(ConflictError):
    """A request with this key is still being processed (its answer is not known yet): ask again shortly."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed")
        self.transaction_id = transaction_id


class NotSentError(RefusedError):
    """The request surely never reached M-Pesa (connection refused, open breaker, no time left):
    safe to send again with the same idempotency key. `transaction_id` names the record, if one exists."""

    transaction_id: str | None = None


class ProviderUnavailableError(UnavailableError):
    """A provider (mpesa.providers) could not answer a query now. The state machines retry it by this name
    (errorType), or by its Daraja subclass's."""


class DarajaUnavailableError(ProviderUnavailableError):
    """Daraja could not answer a query now. The state machine retries it by this name (errorType)."""


class CallbackRefusedError(RefusedError):
    """A callback failed authentication (URL signature or source address): answered 403, never applied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PayloadTooLargeError(RefusedError):
    """A body larger than the route accepts."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"the body must be at most {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class TooManyCallbacksError(RefusedError):
    """A source sent more unauthenticated callbacks than the inbox keeps per hour: refused (429), not kept."""


class LimitExceededError(RefusedError):
    """A payout guard-rail refused the request before anything was written or sent (a per-payout maximum,
    a daily budget): answered 422 with `code` and the field at fault."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message


class NotPermittedError(RefusedError):
    """The deployment does not permit this request (a recipient outside the allowlist): answered 403 with
    `code`; nothing was written or sent."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message
