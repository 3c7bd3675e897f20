"""AWS list prices for every cost figure the benchmarks print: one table, one place.

The figures are those of /work/shared/reference/aws-prices.md (us-east-1, on-demand, free tiers
ignored), the project's single price table; tests/benchmarks/test_prices.py checks them against it
when the file is present. Change them there first, then here.
"""

from typing import Final

SOURCE: Final = "aws-prices.md (us-east-1 list prices, free tiers ignored)"

API_GATEWAY_HTTP_PER_REQUEST: Final = 1.00 / 1e6  # HTTP API, per request (each 512 KB metered separately)
LAMBDA_ARM_PER_GB_S: Final = 0.0000133334  # Lambda arm64, per GB-second
LAMBDA_PER_REQUEST: Final = 0.20 / 1e6
DYNAMODB_PER_WRU: Final = 0.625 / 1e6  # on-demand write request unit (1 KB; transactional counts 2)
DYNAMODB_PER_RRU: Final = 0.125 / 1e6  # on-demand read request unit (4 KB strong; eventual counts half)
SFN_STANDARD_PER_TRANSITION: Final = 0.025 / 1000
SFN_EXPRESS_PER_REQUEST: Final = 1.00 / 1e6
SFN_EXPRESS_PER_GB_S: Final = 0.00001667  # billed in 64 MB steps
SQS_PER_REQUEST: Final = 0.40 / 1e6  # standard queue, per 64 KB chunk; send, receive, delete each count
EVENTBRIDGE_PER_EVENT: Final = 1.00 / 1e6  # custom events put, per 64 KB chunk
SCHEDULER_PER_INVOCATION: Final = 1.00 / 1e6
CLOUDWATCH_LOGS_PER_GB: Final = 0.50  # ingestion
XRAY_PER_TRACE: Final = 5.00 / 1e6  # traces recorded
SECRETS_MANAGER_PER_CALL: Final = 0.05 / 10_000
S3_PER_PUT: Final = 0.005 / 1000
S3_PER_GET: Final = 0.0004 / 1000

# Units that prices are per, as the table defines them.
API_GATEWAY_REQUEST_BYTES: Final = 512 * 1024
SQS_CHUNK_BYTES: Final = 64 * 1024
EVENTBRIDGE_CHUNK_BYTES: Final = 64 * 1024
