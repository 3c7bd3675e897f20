"""Custom checkov checks that `make iac` adds to checkov's own (scripts/iac_scan.py, --external-checks-dir)."""
