"""`python -m local`: start the local stack and serve until Ctrl-C (or SIGTERM)."""

import sys

from local.cli import main

sys.exit(main())
