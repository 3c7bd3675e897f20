"""The local stack behind `make run`: `python -m local` (see docs/local-stack.md)."""
