"""`python -m local`: start the local stack and serve until Ctrl-C (or SIGTERM)."""

import sys

from local import python_mismatch

if (mismatch := python_mismatch()) is not None:
    print(mismatch, flush=True)
    sys.exit(2)

from local.cli import main  # only on the right Python: the handlers need its syntax

sys.exit(main())
