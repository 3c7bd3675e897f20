"""The short fault soak (benchmarks/soak.py --short): about 60 STK payments, payouts and C2B receipts through
the local stack under every kind of Daraja fault, checked against the simulator's truth. It exits non-zero on
any violation; its report (figures, and each violation with the sequence that produced it) is shown on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.local.process import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.soak]


@pytest.mark.timeout(600)
def test_the_short_soak_finds_no_violation(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--short", "--report", str(report)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert run.returncode == 0, (
        f"the soak found violations (exit {run.returncode}):\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    )
    assert report.is_file()
