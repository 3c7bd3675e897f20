"""`python -m local` with the local AWS's DynamoDB operations serialised, as DynamoDB serialises the writes
to an item; the soak starts it with `--serialised-dynamodb`.

moto applies a conditional write without a lock, so two concurrent writers can both win; and its
TransactWriteItems deep-copies the whole table first (failing with a 500 when another thread writes
meanwhile) and, when the transaction is cancelled, puts that copy back, losing every write other threads
made in between. The design has the local AWS serialise its DynamoDB writes, as DynamoDB does; until local/
does, this runs it with the same lock the integration tests use (tests/support/stack.py), so that a soak
sees the product's behaviour rather than moto's races. Nothing in local/ changes.
"""

import sys

from local import python_mismatch

if __name__ == "__main__":
    if (mismatch := python_mismatch()) is not None:
        print(mismatch, flush=True)
        sys.exit(2)
    from local.cli import main
    from tests.support.stack import atomic_dynamodb

    with atomic_dynamodb():
        sys.exit(main())
