"""Errors that name what is wrong, so callers can answer with the field at fault."""


class InputError(ValueError):
    """A value supplied by a caller (HTTP body, webhook, SDK argument) is not acceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed. The message names settings, never their values."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.problems.items()))
        super().__init__(f"invalid configuration: {listed}")
