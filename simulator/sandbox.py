"""The seed's sandbox test numbers and what each one does (mpesa-integration-guide.md, "Testing")."""

from __future__ import annotations

from simulator.payloads import SUCCESS_DESC

ALWAYS_SUCCEEDS = "254708374149"
INSUFFICIENT_FUNDS = "254111111111"
TIMES_OUT = "254222222222"
USER_CANCELS = "254333333333"

INSUFFICIENT_FUNDS_DESC = "The balance is insufficient for the transaction."

# STK outcomes, applied automatically after ``auto_act_delay_s``.
STK_OUTCOMES: dict[str, tuple[int, str]] = {
    ALWAYS_SUCCEEDS: (0, SUCCESS_DESC),
    INSUFFICIENT_FUNDS: (1, INSUFFICIENT_FUNDS_DESC),
    TIMES_OUT: (1037, "DS timeout user cannot be reached"),
    USER_CANCELS: (1032, "Request cancelled by user"),
}

# 254222222222 and 254333333333 do not match ^254(7|1)\d{8}$ but are accepted anyway.
NUMBERS = frozenset(STK_OUTCOMES)
