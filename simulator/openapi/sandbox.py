"""Test MSISDNs that act by themselves, so that automated tests need no person at the virtual phone.

``000000000001`` is the portal's sandbox customer (peers.md; every public sample uses it). The
Tanzanian-shaped ``2557400000NN`` numbers are the simulator's own choice (Vodacom Tanzania numbers
start 25574/25575/25576). Any other valid number waits for a person (``/phone``) or a test
(``POST /simulator/prompts/<id>/accept``).
"""

from __future__ import annotations

from enum import StrEnum

SANDBOX_CUSTOMER = "000000000001"
PAYS = "255740000001"
INSUFFICIENT_FUNDS = "255740000002"
CANCELS = "255740000003"
WRONG_PIN = "255740000004"
NEVER_ANSWERS = "255740000005"
PAYS_AFTER_TIMEOUT = "255740000006"
UNREGISTERED = "255740000009"


class Behaviour(StrEnum):
    PAY = "pay"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CANCEL = "cancel"
    WRONG_PIN = "wrong_pin"
    NEVER_ANSWER = "never_answer"
    PAY_AFTER_TIMEOUT = "pay_after_timeout"
    UNREGISTERED = "unregistered"


# C2B: what the customer on each test number does with the prompt (after ``auto_act_delay_s``;
# PAY_AFTER_TIMEOUT pays ``auto_act_delay_s`` after the request was answered INS-9).
C2B_BEHAVIOUR: dict[str, Behaviour] = {
    SANDBOX_CUSTOMER: Behaviour.PAY,
    PAYS: Behaviour.PAY,
    INSUFFICIENT_FUNDS: Behaviour.INSUFFICIENT_FUNDS,
    CANCELS: Behaviour.CANCEL,
    WRONG_PIN: Behaviour.WRONG_PIN,
    NEVER_ANSWERS: Behaviour.NEVER_ANSWER,
    PAYS_AFTER_TIMEOUT: Behaviour.PAY_AFTER_TIMEOUT,
    UNREGISTERED: Behaviour.UNREGISTERED,
}

# B2C: only these two numbers fail; every other valid number (test numbers included) is paid.
B2C_FAILURES: dict[str, Behaviour] = {
    INSUFFICIENT_FUNDS: Behaviour.INSUFFICIENT_FUNDS,
    UNREGISTERED: Behaviour.UNREGISTERED,
}

NUMBERS = frozenset(C2B_BEHAVIOUR)
