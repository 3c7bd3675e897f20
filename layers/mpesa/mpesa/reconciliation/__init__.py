"""Reconciliation: the scheduled sweep (and the daily reconciliation with M-Pesa's own view)."""
