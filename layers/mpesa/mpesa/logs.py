"""The service's one structured logger (Powertools, JSON lines), shared by handlers and the package.

One parent logger rather than per-module children: keys appended anywhere (the flows append
`transaction_id` once they know it) apply to every line of the invocation, and the edge clears them
at the start of the next one (`mpesa.edge.observability.lambda_entry`).
"""

from aws_lambda_powertools import Logger

logger = Logger()
