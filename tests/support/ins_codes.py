"""The INS output codes of peers.md with the disposition and outcome each must have: one table for the
unit test of the outcome table and the integration test through the client."""

from mpesa.codes import Disposition, Outcome

F, R, U = Disposition.FINAL, Disposition.RETRYABLE, Disposition.UNKNOWN

# peers.md, "Output codes": every code listed there, with our disposition and outcome.
EXPECTED = {
    "INS-0": (F, Outcome.SUCCESS),
    "INS-1": (U, Outcome.UNKNOWN),
    "INS-2": (F, Outcome.FAILED),
    "INS-4": (F, Outcome.FAILED),
    "INS-5": (F, Outcome.CANCELLED),
    "INS-6": (F, Outcome.FAILED),
    "INS-9": (U, Outcome.UNKNOWN),
    "INS-10": (U, Outcome.UNKNOWN),
    "INS-13": (F, Outcome.FAILED),
    "INS-14": (F, Outcome.FAILED),
    "INS-15": (F, Outcome.FAILED),
    "INS-16": (R, Outcome.RETRY),
    "INS-17": (F, Outcome.FAILED),
    "INS-18": (F, Outcome.FAILED),
    "INS-19": (F, Outcome.FAILED),
    "INS-20": (F, Outcome.FAILED),
    "INS-21": (F, Outcome.FAILED),
    "INS-22": (F, Outcome.FAILED),
    "INS-23": (U, Outcome.UNKNOWN),
    "INS-24": (F, Outcome.FAILED),
    "INS-25": (F, Outcome.FAILED),
    "INS-26": (R, Outcome.RETRY),
    "INS-989": (F, Outcome.FAILED),
    "INS-993": (F, Outcome.FAILED),
    "INS-994": (F, Outcome.FAILED),
    "INS-995": (F, Outcome.FAILED),
    "INS-996": (F, Outcome.FAILED),
    "INS-997": (F, Outcome.FAILED),
    "INS-998": (F, Outcome.FAILED),
    "INS-2001": (F, Outcome.FAILED),
    "INS-2002": (F, Outcome.FAILED),
    "INS-2006": (F, Outcome.FAILED),
    "INS-2051": (F, Outcome.FAILED),
    "INS-2057": (F, Outcome.FAILED),
}
